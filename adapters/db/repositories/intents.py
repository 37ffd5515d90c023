"""Treasury payments: intents, and every signed attempt of each (the first and its fee-bumped replacements)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import desc, func, or_, select
from sqlmodel import col

from adapters.db.repositories.dialect import SessionRepository, is_postgres
from adapters.db.tables import AttemptRow, IntentRow
from core.model import Attempt, Intent, IntentStatus, Spend


_INTENT_FIELDS = (
    "id", "key", "actor_ref", "recipient", "token", "amount", "intent_hash", "created_at", "updated_at",
    "recipient_ref", "memo", "needs_confirmation", "nonce", "raw_tx", "tx_hash", "fee", "block_number", "error",
    "submitted_at", "mixer_commitment",
)  # fmt: skip


def _intent(row: IntentRow) -> Intent:
    return Intent(status=IntentStatus(row.status), **{name: getattr(row, name) for name in _INTENT_FIELDS})


def _intent_values(intent: Intent) -> dict[str, Any]:
    return {"status": intent.status.value, **{name: getattr(intent, name) for name in _INTENT_FIELDS}}


class SqlIntentRepository(SessionRepository):
    async def add(self, intent: Intent) -> None:
        # Added to the session, not executed: several adds (a bulk batch) flush as one multi-row INSERT.
        self.session.add(IntentRow(**_intent_values(intent)))

    async def get(self, intent_id: str, *, for_update: bool = False) -> Intent | None:
        query = select(IntentRow).where(col(IntentRow.id) == intent_id).execution_options(populate_existing=True)
        if for_update:
            query = query.with_for_update()  # SQLite ignores it; BEGIN IMMEDIATE already holds the write lock
        row = (await self.session.execute(query)).scalar_one_or_none()
        return None if row is None else _intent(row)

    async def save(self, intent: Intent) -> None:
        row = await self.session.get(IntentRow, intent.id)  # usually already in the identity map: no query
        if row is None:
            await self.add(intent)
            return
        for name, value in _intent_values(intent).items():
            setattr(row, name, value)  # the flush at commit writes only the columns that changed

    async def for_actor(self, actor_ref: str, limit: int) -> list[Intent]:
        query = (
            select(IntentRow)
            .where(or_(col(IntentRow.actor_ref) == actor_ref, col(IntentRow.recipient_ref) == actor_ref))
            .order_by(desc(col(IntentRow.created_at)), desc(col(IntentRow.id)))
            .limit(limit)
        )
        return [_intent(row) for row in (await self.session.execute(query)).scalars()]

    async def with_status(self, status: IntentStatus, limit: int = 1000) -> list[Intent]:
        query = (
            select(IntentRow)
            .where(col(IntentRow.status) == status.value)
            .order_by(col(IntentRow.created_at), col(IntentRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in (await self.session.execute(query)).scalars()]

    async def in_flight(self, token: str) -> int:
        submitted = (col(IntentRow.token) == token, col(IntentRow.status) == IntentStatus.SUBMITTED.value)
        if is_postgres(self.session):
            total = (await self.session.execute(select(func.sum(col(IntentRow.amount))).where(*submitted))).scalar()
            return total or 0
        # SQLite would sum the decimal strings as floats; the in-flight set is small, so add them here.
        amounts = await self.session.execute(select(col(IntentRow.amount)).where(*submitted))
        return sum(amounts.scalars())

    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        counted = (IntentStatus.PENDING.value, IntentStatus.SUBMITTED.value, IntentStatus.CONFIRMED.value)
        query = (
            select(col(IntentRow.token), col(IntentRow.amount), col(IntentRow.created_at))
            .where(col(IntentRow.actor_ref) == actor_ref, col(IntentRow.created_at) >= since,
                   col(IntentRow.status).in_(counted))
            .order_by(col(IntentRow.created_at))
        )
        return [Spend(token, int(amount), at) for token, amount, at in await self.session.execute(query)]

    async def add_attempt(self, attempt: Attempt) -> None:
        self.session.add(AttemptRow(**{name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}))

    async def attempts(self, intent_id: str) -> list[Attempt]:
        query = (
            select(AttemptRow)
            .where(col(AttemptRow.intent_id) == intent_id)
            .order_by(col(AttemptRow.created_at), col(AttemptRow.bump), col(AttemptRow.tx_hash))
        )
        rows = (await self.session.execute(query)).scalars()
        return [Attempt(**{name: getattr(row, name) for name in _ATTEMPT_FIELDS}) for row in rows]


_ATTEMPT_FIELDS = ("intent_id", "tx_hash", "nonce", "bump", "raw_tx", "created_at", "max_fee", "tip")
