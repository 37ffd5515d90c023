"""Tables of scheduled payments and their occurrences, declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field

from adapters.db.tables import Table, _utc
from adapters.db.types import Uint256


class ScheduleRow(Table, table=True):
    """One schedule. The due-time loop reads active ones by next_run_at (indexed with status)."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_status_next_run_at", "status", "next_run_at"),
        Index("ix_schedules_owner_ref_status", "owner_ref", "status"),
    )

    id: str = Field(sa_type=String(32), primary_key=True)
    key: str = Field(sa_type=String(200), unique=True)  # the /pay message's idempotency key
    owner_ref: str = Field(sa_type=String(128))
    recipient: str = Field(sa_type=String(64))
    recipient_ref: str | None = Field(default=None, sa_type=String(128))
    recipient_text: str = Field(sa_type=String(200))
    token: str = Field(sa_type=String(16))
    amount: int = Field(sa_type=Uint256)
    rule: str | None = Field(default=None, sa_type=String(400))  # RFC 5545 RRULE without DTSTART; NULL: once
    dtstart: datetime = _utc()
    tz: str = Field(sa_type=String(64))
    phrase: str = Field(sa_type=String(200))
    next_run_at: datetime | None = _utc(nullable=True)
    status: str = Field(sa_type=String(16))
    skip_next: bool = Field(default=False, sa_type=Boolean)
    reminded_for: datetime | None = _utc(nullable=True)
    template: str | None = Field(default=None, sa_type=String(64))
    runs: int = Field(default=0, sa_type=Integer)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class ScheduleOccurrenceRow(Table, table=True):
    """One due time of a schedule. UNIQUE (schedule_id, due_at), and its key: each is paid at most once."""

    __tablename__ = "schedule_occurrences"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at"),
        Index("ix_schedule_occurrences_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, sa_type=Integer, primary_key=True)
    schedule_id: str = Field(sa_type=String(32), foreign_key="schedules.id")
    due_at: datetime = _utc()
    key: str = Field(sa_type=String(80), unique=True)
    owner_ref: str = Field(sa_type=String(128))
    recipient: str = Field(sa_type=String(64))
    recipient_ref: str | None = Field(default=None, sa_type=String(128))
    token: str = Field(sa_type=String(16))
    amount: int = Field(sa_type=Uint256)
    status: str = Field(sa_type=String(16))
    intent_id: str | None = Field(default=None, sa_type=String(64))
    batch_id: str | None = Field(default=None, sa_type=String(64))
    note: str | None = Field(default=None, sa_type=Text)
    template: str | None = Field(default=None, sa_type=String(64))
    created_at: datetime = _utc()
