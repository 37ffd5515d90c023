"""SqlLedgerRepository (core.ledger): treasury outflows read across intents and bulk rows, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, func, select

from adapters.db.bulk_tables import BulkBatchRow, BulkRowRow
from adapters.db.repositories.dialect import SessionRepository
from adapters.db.tables import IntentRow
from core.ledger import Outflow, OutflowKind, OutflowStatus

_I, _B, _R = IntentRow.__table__, BulkBatchRow.__table__, BulkRowRow.__table__

# Signed or settled payments are outflows; pending (waiting for /confirm or approvals) and cancelled are not.
_INTENT_STATUS = {"submitted": OutflowStatus.SENDING, "confirmed": OutflowStatus.PAID, "failed": OutflowStatus.FAILED}
_ROW_STATUS = {"pending": OutflowStatus.SENDING, "paid": OutflowStatus.PAID, "failed": OutflowStatus.FAILED}


def _from_intent(r: Any) -> Outflow:
    kind = OutflowKind.MIXER if r.mixer_commitment else OutflowKind.PAYMENT
    return Outflow(r.created_at, kind, r.id, r.token, int(r.amount), r.recipient, r.actor_ref,
                   _INTENT_STATUS[r.status], r.tx_hash, r.memo)


def _from_row(r: Any) -> Outflow:
    return Outflow(r.started_at, OutflowKind.BULK, f"{r.batch_id}:{r.line}", r.token, int(r.amount), r.recipient,
                   r.actor_ref, _ROW_STATUS[r.status], r.tx_hash, r.memo, r.batch_id, r.line)


def _newest_first(found: list[Outflow]) -> list[Outflow]:
    return sorted(found, key=lambda o: o.order, reverse=True)


class SqlLedgerRepository(SessionRepository):
    async def outflows(self, limit: int | None, token: str | None = None) -> list[Outflow]:
        found = await self._intents(limit, token) + await self._rows(limit, token)
        return _newest_first(found)[:limit] if limit is not None else _newest_first(found)

    async def _intents(self, limit: int | None, token: str | None) -> list[Outflow]:
        query = (
            select(_I.c.id, _I.c.created_at, _I.c.token, _I.c.amount, _I.c.recipient, _I.c.actor_ref, _I.c.status,
                   _I.c.tx_hash, _I.c.memo, _I.c.mixer_commitment)
            .where(_I.c.status.in_(list(_INTENT_STATUS)))
            .order_by(desc(_I.c.created_at), desc(_I.c.id))  # ix_intents_created_at, read backwards
            .limit(limit)
        )
        if token is not None:
            query = query.where(_I.c.token == token)
        return [_from_intent(r) for r in await self.session.execute(query)]

    async def _rows(self, limit: int | None, token: str | None) -> list[Outflow]:
        """Executed batches newest first (ix_bulk_batches_started_at), then each one's rows from its primary key,
        until `limit` rows are in hand: a short ledger never reads a 10,000-row batch beyond what it shows."""
        out: list[Outflow] = []
        batches = (
            select(_B.c.id, _B.c.started_at, _B.c.actor_ref)
            .where(_B.c.started_at.is_not(None))
            .order_by(desc(_B.c.started_at), desc(_B.c.id))
        )
        if limit is None:  # every row (the export): one joined query
            joined = self._joined(token).order_by(desc(_B.c.started_at), desc(_B.c.id), desc(_R.c.seq))
            return [_from_row(r) for r in await self.session.execute(joined)]
        seen = 0
        while len(out) < limit:
            page = (await self.session.execute(batches.offset(seen).limit(20))).all()
            if not page:
                break
            seen += len(page)
            for b in page:
                rows = (
                    select(_R.c.batch_id, _R.c.seq, _R.c.line, _R.c.token, _R.c.amount, _R.c.recipient, _R.c.status,
                           _R.c.tx_hash, _R.c.memo)
                    .where(_R.c.batch_id == b.id, _R.c.status.in_(list(_ROW_STATUS)))
                    .order_by(desc(_R.c.seq))
                    .limit(limit - len(out))
                )
                if token is not None:
                    rows = rows.where(_R.c.token == token)
                for r in await self.session.execute(rows):
                    out.append(Outflow(b.started_at, OutflowKind.BULK, f"{b.id}:{r.line}", r.token, int(r.amount),
                                       r.recipient, b.actor_ref, _ROW_STATUS[r.status], r.tx_hash, r.memo, b.id, r.line))
                if len(out) >= limit:
                    break
        return out

    def _joined(self, token: str | None) -> Any:
        query = (
            select(_R.c.batch_id, _R.c.seq, _R.c.line, _R.c.token, _R.c.amount, _R.c.recipient, _R.c.status,
                   _R.c.tx_hash, _R.c.memo, _B.c.started_at, _B.c.actor_ref)
            .join(_B, _B.c.id == _R.c.batch_id)
            .where(_B.c.started_at.is_not(None), _R.c.status.in_(list(_ROW_STATUS)))
        )
        return query.where(_R.c.token == token) if token is not None else query

    async def received(self, wallet: str, limit: int) -> list[Outflow]:
        query = (
            self._joined(None)
            .where(func.lower(_R.c.recipient) == wallet.lower(), _R.c.status != "failed")  # ix_bulk_rows_recipient_lower
            .order_by(desc(_B.c.started_at), desc(_R.c.batch_id), desc(_R.c.seq))
            .limit(limit)
        )
        return [_from_row(r) for r in await self.session.execute(query)]
