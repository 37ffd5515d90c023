"""Escrowed intents and chain cursors over one AsyncSession (core.escrow.repository); rows become EscrowIntents here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, desc, func, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from adapters.db.escrow_tables import ChainCursorRow, EscrowRow
from adapters.db.repositories.dialect import SessionRepository, insert_for, is_postgres
from core.escrow.model import Condition, EscrowIntent, EscrowStatus

_FIELDS = (
    "id", "key", "actor_ref", "recipient", "token", "amount", "salt", "intent_hash", "expires_at", "created_at",
    "updated_at", "recipient_ref", "memo", "due_at", "pair", "above", "threshold", "price_decimals", "funded",
    "funder", "nonce", "raw_tx", "tx_hash", "submitted_at", "settled_at", "error", "note",
)  # fmt: skip


def _intent(row: Any) -> EscrowIntent:
    """An EscrowRow, or a Core row of _COLUMNS (the lists read columns, not ORM objects: 1,000 intents a tick)."""
    return EscrowIntent(condition=Condition(row.condition), status=EscrowStatus(row.status),
                        **{name: getattr(row, name) for name in _FIELDS})


_COLUMNS = [EscrowRow.__table__.c[name] for name in ("condition", "status", *_FIELDS)]


def _values(intent: EscrowIntent) -> dict[str, Any]:
    return {"condition": intent.condition.value, "status": intent.status.value,
            **{name: getattr(intent, name) for name in _FIELDS}}


class SqlEscrowRepository(SessionRepository):
    async def add(self, intent: EscrowIntent) -> None:
        self.session.add(EscrowRow(**_values(intent)))
        await self.session.flush()  # a repeated key or hash fails here (DuplicateKey), inside the caller's block

    async def get(self, intent_id: str, *, for_update: bool = False) -> EscrowIntent | None:
        query = select(EscrowRow).where(col(EscrowRow.id) == intent_id).execution_options(populate_existing=True)
        if for_update:
            query = query.with_for_update()  # SQLite ignores it; BEGIN IMMEDIATE already holds the write lock
        row = (await self.session.execute(query)).scalar_one_or_none()
        return None if row is None else _intent(row)

    async def by_hash(self, intent_hashes: list[str]) -> list[EscrowIntent]:
        if not intent_hashes:
            return []
        wanted = sorted({h.lower() for h in intent_hashes})
        query = select(*_COLUMNS).where(col(EscrowRow.intent_hash).in_(wanted))
        return [_intent(row) for row in await self.session.execute(query)]

    async def save(self, intent: EscrowIntent) -> None:
        row = await self.session.get(EscrowRow, intent.id)
        if row is None:
            await self.add(intent)
            return
        for name, value in _values(intent).items():
            setattr(row, name, value)  # the flush at commit writes only the columns that changed

    async def for_actor(self, actor_ref: str, limit: int) -> list[EscrowIntent]:
        query = (
            select(*_COLUMNS)
            .where(or_(col(EscrowRow.actor_ref) == actor_ref, col(EscrowRow.recipient_ref) == actor_ref))
            .order_by(desc(col(EscrowRow.created_at)), desc(col(EscrowRow.id)))
            .limit(limit)
        )
        return [_intent(row) for row in await self.session.execute(query)]

    async def with_status(self, statuses: list[EscrowStatus], limit: int = 1000) -> list[EscrowIntent]:
        query = (
            select(*_COLUMNS)
            .where(col(EscrowRow.status).in_([s.value for s in statuses]))
            .order_by(col(EscrowRow.created_at), col(EscrowRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in await self.session.execute(query)]

    async def due(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        query = (
            select(*_COLUMNS)
            .where(col(EscrowRow.status) == EscrowStatus.FUNDED.value,
                   col(EscrowRow.condition) == Condition.TIME.value,
                   col(EscrowRow.due_at) <= now)
            .order_by(col(EscrowRow.due_at), col(EscrowRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in await self.session.execute(query)]

    async def price_ready(self, pair: str, answer: int, limit: int = 1000) -> list[EscrowIntent]:
        if answer <= 0:  # a broken feed answers 0 or less: that is no price, and must fire nothing
            return []
        query = (
            select(*_COLUMNS)
            .where(col(EscrowRow.status) == EscrowStatus.FUNDED.value,
                   col(EscrowRow.pair) == pair,
                   col(EscrowRow.condition) == Condition.PRICE.value,
                   or_(and_(col(EscrowRow.above).is_(True), self._threshold_below(answer)),
                       and_(col(EscrowRow.above).is_(False), self._threshold_above(answer))))
            .order_by(col(EscrowRow.created_at), col(EscrowRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in await self.session.execute(query)]

    async def expired(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        query = (
            select(*_COLUMNS)
            .where(col(EscrowRow.status).in_([EscrowStatus.AWAITING.value, EscrowStatus.FUNDED.value]),
                   col(EscrowRow.expires_at) <= now)
            .order_by(col(EscrowRow.expires_at), col(EscrowRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in await self.session.execute(query)]

    # The threshold is NUMERIC(78,0) on PostgreSQL, compared as a number. On SQLite it is a decimal string
    # (types.Uint256), and digit strings without leading zeros order as numbers when compared by length first.
    def _threshold_below(self, answer: int) -> ColumnElement[bool]:
        if is_postgres(self.session):
            return col(EscrowRow.threshold) < answer
        threshold, digits = type_coerce(col(EscrowRow.threshold), String), str(answer)
        return or_(func.length(threshold) < len(digits), and_(func.length(threshold) == len(digits), threshold < digits))

    def _threshold_above(self, answer: int) -> ColumnElement[bool]:
        if is_postgres(self.session):
            return col(EscrowRow.threshold) > answer
        threshold, digits = type_coerce(col(EscrowRow.threshold), String), str(answer)
        return or_(func.length(threshold) > len(digits), and_(func.length(threshold) == len(digits), threshold > digits))


class SqlCursorRepository(SessionRepository):
    async def get(self, name: str) -> int | None:
        row = await self.session.get(ChainCursorRow, name, populate_existing=True)
        return None if row is None else row.block

    async def put(self, name: str, block: int) -> None:
        statement = insert_for(self.session, ChainCursorRow).values(name=name, block=block)
        await self.session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"block": block}))
