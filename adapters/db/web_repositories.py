"""SqlWebRepository (core.dashboard.WebRepository): sign-in links used, the ledger by keyset, spending, read marks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, desc, false, func, or_, select, true

from adapters.db.bulk_repositories import _batch
from adapters.db.repositories.dialect import SessionRepository, insert_for, is_postgres
from adapters.db.repositories.ledger import _B, _I, _INTENT_STATUS, _R, _ROW_STATUS
from adapters.db.repositories.outbox import _notification
from adapters.db.tables import NotificationRow
from adapters.db.web_tables import WebReadRow, WebSignInRow
from core.bulk.model import Batch
from core.dashboard import Cursor, DaySpend, LedgerFilter, LedgerPart
from core.ledger import Outflow, OutflowKind, OutflowStatus
from core.model import Notification

_N = NotificationRow.__table__
BATCHES_PER_READ = 20  # executed batches listed per query while the ledger's bulk rows are read


def _statuses(mapping: dict[str, OutflowStatus], wanted: OutflowStatus | None) -> list[str]:
    return [k for k, v in mapping.items() if wanted is None or v is wanted]


class SqlWebRepository(SessionRepository):
    async def use_link(self, link_id: str, user_ref: str, used_at: datetime, expires_at: datetime) -> None:
        self.session.add(WebSignInRow(link_id=link_id, user_ref=user_ref, used_at=used_at, expires_at=expires_at))
        await self.session.flush()  # the primary key fires here (DuplicateKey) when the link was used already

    async def link_used(self, link_id: str) -> bool:
        return (await self.session.get(WebSignInRow, link_id)) is not None

    async def ledger_page(self, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        """Each source read newest first by its own index (intents: created_at, id; bulk rows: the batch's
        started_at, then ix_bulk_rows_batch_id_line), at most `limit` from each, merged: no OFFSET anywhere."""
        found = await self._intents(where, after, limit) + await self._rows(where, after, limit)
        return sorted(found, key=lambda o: o.order, reverse=True)[:limit]

    async def ledger_part(self, part: LedgerPart, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        if part is LedgerPart.PAYMENTS:
            return await self._intents(where, after, limit)
        return await self._rows(where, after, limit)

    async def _intents(self, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        q = (select(_I.c.id, _I.c.created_at, _I.c.token, _I.c.amount, _I.c.recipient, _I.c.actor_ref, _I.c.status,
                    _I.c.tx_hash, _I.c.memo, _I.c.mixer_commitment)
             .where(_I.c.status.in_(_statuses(_INTENT_STATUS, where.status)))
             .order_by(desc(_I.c.created_at), desc(_I.c.id)).limit(limit))
        q = _common(q, where, _I.c.created_at, _I.c.token, _I.c.actor_ref)
        if after is not None:
            # A payment sorts as (at, "", 0, id): below a bulk row of the same instant, above nothing else of it.
            tie = true() if after.batch_id else (_I.c.id < after.id)
            q = q.where(or_(_I.c.created_at < after.at, and_(_I.c.created_at == after.at, tie)))
        # Unpacked by position, not read by name: the CSV export turns 100,000 of these into outflows per run.
        payment, mixer, statuses = OutflowKind.PAYMENT, OutflowKind.MIXER, _INTENT_STATUS
        return [Outflow(at, mixer if commitment else payment, id_, token, int(amount), recipient, actor, statuses[status],
                        tx_hash, memo)
                for id_, at, token, amount, recipient, actor, status, tx_hash, memo, commitment
                in await self.session.execute(q)]

    async def _rows(self, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        """Executed batches newest first (ix_bulk_batches_started_at, BATCHES_PER_READ at a time), then each one's
        rows newest line first through ix_bulk_rows_batch_id_line, asking only for the rows still wanted. A joined
        query sorted every remaining row of the range again for each CSV chunk; this reads each row once."""
        batches = (select(_B.c.id, _B.c.started_at, _B.c.actor_ref).where(_B.c.started_at.is_not(None))
                   .order_by(desc(_B.c.started_at), desc(_B.c.id)).limit(BATCHES_PER_READ))
        batches = _common(batches, replace(where, token=None), _B.c.started_at, None, _B.c.actor_ref)
        statuses, bulk, row_status = _statuses(_ROW_STATUS, where.status), OutflowKind.BULK, _ROW_STATUS
        found: list[Outflow] = []
        # Batches strictly older than (at, batch_id) in the ledger's order; the cursor's own batch is read again,
        # from its line onwards. A payment's cursor ("" for batch) is older than every bulk row of its instant.
        at, newer_batch, within = (after.at, after.batch_id, after) if after is not None else (None, "", None)
        while len(found) < limit:
            q = batches
            if at is not None:
                same = (_B.c.id <= newer_batch if within is not None else _B.c.id < newer_batch) if newer_batch else false()
                q = q.where(or_(_B.c.started_at < at, and_(_B.c.started_at == at, same)))
            listed = (await self.session.execute(q)).all()
            for batch_id, started_at, actor in listed:
                rows = (select(_R.c.line, _R.c.token, _R.c.amount, _R.c.recipient, _R.c.status, _R.c.tx_hash, _R.c.memo)
                        .where(_R.c.batch_id == batch_id, _R.c.status.in_(statuses))
                        .order_by(desc(_R.c.line)).limit(limit - len(found)))
                if where.token is not None:
                    rows = rows.where(_R.c.token == where.token)
                if within is not None and within.batch_id == batch_id:
                    rows = rows.where(_R.c.line < within.line)
                within = None
                # Unpacked by position, not read by name: the CSV export turns 100,000 of these into outflows per run.
                found += [Outflow(started_at, bulk, f"{batch_id}:{line}", token, int(amount), recipient, actor,
                                  row_status[status], tx_hash, memo, batch_id, line)
                          for line, token, amount, recipient, status, tx_hash, memo in await self.session.execute(rows)]
                if len(found) >= limit:
                    break
            if len(listed) < BATCHES_PER_READ:
                break
            at, newer_batch, within = listed[-1].started_at, listed[-1].id, None
        return found

    async def batches(self, limit: int) -> list[Batch]:
        q = select(_B).order_by(desc(_B.c.created_at), desc(_B.c.id)).limit(limit)
        return [_batch(r) for r in await self.session.execute(q)]

    async def spending(self, since: datetime) -> list[DaySpend]:
        per: dict[tuple[date, str], int] = {}
        paid_intents = [k for k, v in _INTENT_STATUS.items() if v is not OutflowStatus.FAILED]
        intents = select(_I.c.created_at, _I.c.token, _I.c.amount).where(
            _I.c.created_at >= since, _I.c.status.in_(paid_intents))
        for at, token, amount in await self.session.execute(intents):
            per[(at.date(), token)] = per.get((at.date(), token), 0) + int(amount)
        paid_rows = [k for k, v in _ROW_STATUS.items() if v is not OutflowStatus.FAILED]
        if is_postgres(self.session):  # one sum per batch and token in SQL (NUMERIC sums exactly)
            rows: Any = (select(_B.c.started_at, _R.c.token, func.sum(_R.c.amount))
                         .join(_B, _B.c.id == _R.c.batch_id)
                         .where(_B.c.started_at >= since, _R.c.status.in_(paid_rows))
                         .group_by(_B.c.id, _B.c.started_at, _R.c.token))
        else:  # SQLite keeps uint256 as text: summing there would go through floats
            rows = (select(_B.c.started_at, _R.c.token, _R.c.amount).join(_B, _B.c.id == _R.c.batch_id)
                    .where(_B.c.started_at >= since, _R.c.status.in_(paid_rows)))
        for at, token, amount in await self.session.execute(rows):
            per[(at.date(), token)] = per.get((at.date(), token), 0) + int(amount)
        return [DaySpend(day, token, amount) for (day, token), amount in sorted(per.items())]

    async def notifications(self, user_ref: str, limit: int) -> list[Notification]:
        q = (select(NotificationRow).where(NotificationRow.__table__.c.user_ref == user_ref)
             .order_by(desc(_N.c.created_at), desc(_N.c.id)).limit(limit))
        return [_notification(r) for r in (await self.session.execute(q)).scalars()]

    async def read_until(self, user_ref: str) -> datetime | None:
        row = await self.session.get(WebReadRow, user_ref)
        return None if row is None else row.read_until

    async def mark_read(self, user_ref: str, at: datetime) -> None:
        statement = insert_for(self.session, WebReadRow).values(user_ref=user_ref, read_until=at)
        await self.session.execute(statement.on_conflict_do_update(index_elements=["user_ref"], set_={"read_until": at}))


def _common(q: Any, where: LedgerFilter, at: Any, token: Any, person: Any) -> Any:
    """The filter's clauses on one source's columns (`token` None: applied elsewhere, on each batch's rows)."""
    if where.since is not None:
        q = q.where(at >= where.since)
    if where.until is not None:
        q = q.where(at < where.until)
    if where.token is not None:
        q = q.where(token == where.token)
    if where.person is not None:
        q = q.where(person == where.person)
    return q
