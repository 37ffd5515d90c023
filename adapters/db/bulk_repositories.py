"""SqlBatchRepository and SqlUploadCounts (core.bulk.ports): bulk payout storage, part of every SqlUnitOfWork."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, desc, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.bulk_tables import BulkBatchRow, BulkChunkRow, BulkRowIdRow, BulkRowRow, BulkUploadCountRow
from adapters.db.repositories import insert_for
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk, ChunkStatus, RowStatus
from core.model import Spend

_B, _R, _C = BulkBatchRow.__table__, BulkRowRow.__table__, BulkChunkRow.__table__
_U, _IDS = BulkUploadCountRow.__table__, BulkRowIdRow.__table__
_BATCH_FIELDS = [c.name for c in _B.columns]
_ROW_FIELDS = [c.name for c in _R.columns]
_CHUNK_FIELDS = [c.name for c in _C.columns]


def _values(obj: Any, fields: list[str]) -> dict[str, Any]:
    """A dataclass -> column values; enums are stored by value, totals as JSON of decimal strings."""
    values = {name: getattr(obj, name) for name in fields}
    values["status"] = obj.status.value
    if "totals" in values:
        values["totals"] = json.dumps({sym: str(units) for sym, units in obj.totals.items()})
    if "signed_hashes" in values:  # a chunk's every signed transaction, space-separated
        values["signed_hashes"] = " ".join(obj.signed_hashes) or None
    return values


def _load(cls: type, status: type, row: Any, fields: list[str]) -> Any:
    values = {name: getattr(row, name) for name in fields}
    values["status"] = status(values["status"])
    if "totals" in values:
        values["totals"] = {sym: int(units) for sym, units in json.loads(values["totals"]).items()}
    if "signed_hashes" in values:
        values["signed_hashes"] = tuple((values["signed_hashes"] or "").split())
    return cls(**values)


def _batch_values(b: Batch) -> dict[str, Any]:
    return _values(b, _BATCH_FIELDS)


def _batch(row: Any) -> Batch:
    return _load(Batch, BatchStatus, row, _BATCH_FIELDS)


def _row_values(r: BatchRow) -> dict[str, Any]:
    return _values(r, _ROW_FIELDS)


def _row(row: Any) -> BatchRow:
    return _load(BatchRow, RowStatus, row, _ROW_FIELDS)


def _chunk_values(c: Chunk) -> dict[str, Any]:
    return _values(c, _CHUNK_FIELDS)


def _chunk(row: Any) -> Chunk:
    return _load(Chunk, ChunkStatus, row, _CHUNK_FIELDS)


class SqlBatchRepository:
    """Core statements only (no ORM identity map): a batch has up to 10,000 rows, written in one executemany."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _all(self, query: Any) -> list[Any]:
        return list((await self.session.execute(query)).all())

    async def add(self, batch: Batch, rows: list[BatchRow]) -> None:
        await self.session.execute(insert(_B).values(**_batch_values(batch)))
        if rows:
            if any(r.row_id is None for r in rows):  # the chain is asked when the batch starts (core.bulk.rowids)
                first = await self.reserve_row_ids(len(rows))
                for i, r in enumerate(sorted(rows, key=lambda r: r.seq)):
                    r.row_id = first + i  # in file order, so a chunk's rows fill its bitmap words in order
            await self.session.execute(insert(_R), [_row_values(r) for r in rows])

    async def reserve_row_ids(self, count: int) -> int:
        """Reserve row ids for a batch: whole 256-row words of the contract's bitmap (a word's first write is
        the costly one, so batches never share one). One upsert under the counter's row lock (SQLite: the
        write lock): two batches never get the same range, and a rollback gives the range back unused."""
        span = -(-max(count, 1) // 256) * 256
        statement = insert_for(self.session, BulkRowIdRow).values(name="rows", next_id=span)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"next_id": _IDS.c.next_id + span},
        ).returning(_IDS.c.next_id)
        return int((await self.session.execute(statement)).scalar_one()) - span

    async def skip_row_ids(self, to_at_least: int) -> None:
        statement = insert_for(self.session, BulkRowIdRow).values(name="rows", next_id=to_at_least)
        ahead = case((_IDS.c.next_id < to_at_least, to_at_least), else_=_IDS.c.next_id)  # GREATEST on both backends
        await self.session.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"next_id": ahead}))

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        query = select(_B).where(_B.c.id == batch_id)
        if for_update:
            query = query.with_for_update()
        found = await self._all(query)
        return _batch(found[0]) if found else None

    async def save(self, batch: Batch) -> None:
        values = _batch_values(batch)
        del values["id"]
        await self.session.execute(update(_B).where(_B.c.id == batch.id).values(**values))

    async def with_hash(self, content_hash: str) -> list[Batch]:
        query = select(_B).where(_B.c.content_hash == content_hash).order_by(desc(_B.c.created_at))
        return [_batch(r) for r in await self._all(query)]

    async def for_actor(self, actor_ref: str, limit: int) -> list[Batch]:
        query = (
            select(_B)
            .where(_B.c.actor_ref == actor_ref)
            .order_by(desc(_B.c.created_at), desc(_B.c.id))
            .limit(limit)
        )
        return [_batch(r) for r in await self._all(query)]

    async def running(self) -> list[Batch]:
        query = select(_B).where(_B.c.status == BatchStatus.RUNNING.value).order_by(_B.c.created_at)
        return [_batch(r) for r in await self._all(query)]

    async def committed(self, token: str) -> int:
        # Summed here, not in SQL: SQLite keeps uint256 amounts as text.
        query = (
            select(_R.c.amount)
            .join(_B, _B.c.id == _R.c.batch_id)
            .where(_B.c.status == BatchStatus.RUNNING.value, _R.c.token == token, _R.c.status == RowStatus.PENDING.value)
        )
        return sum(int(amount) for (amount,) in await self._all(query))

    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        # Summed here per batch and token (SQLite keeps uint256 amounts as text); one person's day of batches.
        started = (BatchStatus.AWAITING.value, BatchStatus.RUNNING.value, BatchStatus.DONE.value)
        query = (
            select(_B.c.id, _B.c.started_at, _R.c.token, _R.c.amount)
            .join(_R, _R.c.batch_id == _B.c.id)
            .where(_B.c.actor_ref == actor_ref, _B.c.status.in_(started), _B.c.started_at >= since,
                   _R.c.status.in_((RowStatus.PENDING.value, RowStatus.PAID.value)))
        )
        totals: dict[tuple[str, str], int] = {}
        when: dict[str, datetime] = {}
        for batch_id, at, token, amount in await self._all(query):
            totals[batch_id, token] = totals.get((batch_id, token), 0) + int(amount)
            when[batch_id] = at
        spends = [Spend(token, amount, when[batch_id]) for (batch_id, token), amount in totals.items()]
        return sorted(spends, key=lambda sp: sp.at)

    async def rows(self, batch_id: str, *, status: RowStatus | None = None, chunk: int | None = None,
                   seqs: tuple[int, int] | None = None) -> list[BatchRow]:
        query = select(_R).where(_R.c.batch_id == batch_id)
        if seqs is not None:
            query = query.where(_R.c.seq >= seqs[0], _R.c.seq < seqs[1])
        if status is not None:
            query = query.where(_R.c.status == status.value)
        if chunk is not None:
            query = query.where(_R.c.chunk == chunk)
        return [_row(r) for r in await self._all(query.order_by(_R.c.seq))]

    async def save_rows(self, rows: list[BatchRow]) -> None:
        if not rows:
            return
        statement = (
            update(_R)
            .where(_R.c.batch_id == bindparam("b_batch_id"), _R.c.seq == bindparam("b_seq"))
            .values(status=bindparam("b_status"), chunk=bindparam("b_chunk"), tx_hash=bindparam("b_tx_hash"),
                    error=bindparam("b_error"), row_id=bindparam("b_row_id"))
        )
        params = [
            {"b_batch_id": r.batch_id, "b_seq": r.seq, "b_status": r.status.value, "b_chunk": r.chunk,
             "b_tx_hash": r.tx_hash, "b_error": r.error, "b_row_id": r.row_id}
            for r in rows
        ]
        await self.session.execute(statement, params)

    async def add_chunks(self, chunks: list[Chunk]) -> None:
        if chunks:
            await self.session.execute(insert(_C), [_chunk_values(c) for c in chunks])

    async def chunks(self, batch_id: str) -> list[Chunk]:
        query = select(_C).where(_C.c.batch_id == batch_id).order_by(_C.c.index)
        return [_chunk(r) for r in await self._all(query)]

    async def chunk(self, batch_id: str, index: int, *, for_update: bool = False) -> Chunk | None:
        query = select(_C).where(_C.c.batch_id == batch_id, _C.c.index == index)
        if for_update:
            query = query.with_for_update()
        found = await self._all(query)
        return _chunk(found[0]) if found else None

    async def claim_open_chunks(self, batch_id: str, most: int) -> list[Chunk]:
        query = (
            select(_C)
            .where(_C.c.batch_id == batch_id, _C.c.status == ChunkStatus.OPEN.value)
            .order_by(_C.c.index)
            .limit(most)
            .with_for_update(skip_locked=True)
        )
        return [_chunk(r) for r in await self._all(query)]

    async def stale_chunks(self, batch_id: str, signed_before: datetime) -> list[Chunk]:
        query = (
            select(_C)
            .where(_C.c.batch_id == batch_id, _C.c.status == ChunkStatus.SIGNED.value, _C.c.signed_at < signed_before)
            .order_by(_C.c.index)
            .with_for_update(skip_locked=True)
        )
        return [_chunk(r) for r in await self._all(query)]

    async def save_chunk(self, chunk: Chunk) -> None:
        values = _chunk_values(chunk)
        del values["batch_id"], values["index"]
        await self.session.execute(
            update(_C).where(_C.c.batch_id == chunk.batch_id, _C.c.index == chunk.index).values(**values)
        )


class SqlUploadCounts:
    """Upload limits' counters: one row per person and window, added to by an atomic upsert."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, actor_ref: str, window: str, start: datetime, *, files: int = 0, rows: int = 0) -> tuple[int, int]:
        statement = insert_for(self.session, BulkUploadCountRow).values(
            actor_ref=actor_ref, period=window, started_at=start, files=files, rows=rows
        )
        # INSERT ... ON CONFLICT DO UPDATE ... RETURNING is one statement on both backends: the row lock it
        # takes serialises concurrent uploads of one person, so no two of them read the same total.
        statement = statement.on_conflict_do_update(
            index_elements=["actor_ref", "period", "started_at"],
            set_={"files": _U.c.files + statement.excluded.files, "rows": _U.c.rows + statement.excluded.rows},
        ).returning(_U.c.files, _U.c.rows)
        total = (await self.session.execute(statement)).one()
        if window == "day":  # windows that ended long ago count for nothing: keep the table small
            await self.session.execute(
                delete(_U).where(_U.c.actor_ref == actor_ref, _U.c.started_at < start - timedelta(days=2))
            )
        return int(total[0]), int(total[1])
