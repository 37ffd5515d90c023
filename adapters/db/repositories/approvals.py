"""Approval requests and each approver's decision (core.ports.ApprovalRepository)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from adapters.db.approval_tables import ApprovalRequestRow, ApprovalRow
from adapters.db.repositories.dialect import SessionRepository, insert_for
from core.model import ApprovalRequest, ApprovalStatus, Vote

_REQUEST_FIELDS = ("intent_id", "requester_ref", "required", "created_at", "expires_at", "decided_at", "decided_by",
                   "reason")


def _request(row: ApprovalRequestRow) -> ApprovalRequest:
    return ApprovalRequest(status=ApprovalStatus(row.status), **{f: getattr(row, f) for f in _REQUEST_FIELDS})


class SqlApprovalRepository(SessionRepository):
    async def add(self, request: ApprovalRequest) -> None:
        await self.session.flush()  # the intent it refers to (added in this unit of work) goes in first
        self.session.add(ApprovalRequestRow(status=request.status.value,
                                            **{f: getattr(request, f) for f in _REQUEST_FIELDS}))
        await self.session.flush()

    async def get(self, intent_id: str) -> ApprovalRequest | None:
        query = select(ApprovalRequestRow).where(col(ApprovalRequestRow.intent_id) == intent_id)
        row = (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
        return None if row is None else _request(row)

    async def save(self, request: ApprovalRequest) -> None:
        row = await self.session.get(ApprovalRequestRow, request.intent_id)
        assert row is not None, f"approval request {request.intent_id} was never added"
        row.status = request.status.value
        for f in _REQUEST_FIELDS[1:]:
            setattr(row, f, getattr(request, f))
        await self.session.flush()

    async def with_status(self, status: ApprovalStatus, limit: int = 1000) -> list[ApprovalRequest]:
        rows = await self.session.execute(
            select(ApprovalRequestRow).where(col(ApprovalRequestRow.status) == status.value)
            .order_by(col(ApprovalRequestRow.created_at)).limit(limit)
        )
        return [_request(r) for r in rows.scalars()]

    async def vote(self, vote: Vote) -> bool:
        # ON CONFLICT DO NOTHING: a second decision of one approver stores nothing, and (on PostgreSQL) does not
        # abort the transaction the way a failing INSERT would.
        inserted = await self.session.execute(
            insert_for(self.session, ApprovalRow)
            .values(intent_id=vote.intent_id, approver_ref=vote.approver_ref, approve=vote.approve,
                    reason=vote.reason, at=vote.at)
            .on_conflict_do_nothing(index_elements=["intent_id", "approver_ref"])
            .returning(col(ApprovalRow.id))
        )
        return inserted.first() is not None

    async def votes(self, intent_id: str) -> list[Vote]:
        rows = await self.session.execute(
            select(ApprovalRow).where(col(ApprovalRow.intent_id) == intent_id).order_by(col(ApprovalRow.id))
        )
        return [Vote(r.intent_id, r.approver_ref, r.approve, r.at, r.reason) for r in rows.scalars()]
