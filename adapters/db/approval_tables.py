"""Tables of M-of-N approvals (core.payments.approvals), declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlmodel import Field

from adapters.db.tables import Table, _utc


class ApprovalRequestRow(Table, table=True):
    """A payment (or a bulk batch) above APPROVAL_THRESHOLD or its requester's daily limit, waiting for (or done
    with) its approvers; one per payment or batch. `intent_id` is the payment's or the batch's id."""

    __tablename__ = "approval_requests"

    intent_id: str = Field(sa_type=String(64), primary_key=True)
    requester_ref: str = Field(sa_type=String(128))
    required: int = Field(sa_type=Integer)
    status: str = Field(sa_type=String(16), index=True)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    decided_at: datetime | None = _utc(nullable=True)
    decided_by: str | None = Field(default=None, sa_type=String(128))
    reason: str | None = Field(default=None, sa_type=Text)


class ApprovalRow(Table, table=True):
    """One approver's decision, with who and when. UNIQUE (intent, approver): nobody counts twice, in any process."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("intent_id", "approver_ref"),)

    id: int | None = Field(default=None, sa_type=Integer, primary_key=True)
    intent_id: str = Field(sa_type=String(64), sa_column_args=[ForeignKey("approval_requests.intent_id")])
    approver_ref: str = Field(sa_type=String(128))
    approve: bool
    reason: str | None = Field(default=None, sa_type=Text)
    at: datetime = _utc()
