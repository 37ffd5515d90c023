"""Bulk row ids on SQLite and PostgreSQL: each batch gets whole 256-row words of the contract's bitmap, in file
order; batches stored at the same time never share an id; a rolled-back batch gives its range back unused."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timezone

from core.bulk.model import Batch, BatchRow

NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)


def batch(n: int) -> tuple[Batch, list[BatchRow]]:
    bid = secrets.token_hex(8)
    b = Batch(bid, f"k-{bid}", "console:op", "pay.csv", secrets.token_hex(32), "csv", n, {"CRO": n}, NOW, NOW)
    rows = [BatchRow(bid, i, i + 2, "0x" + "ab" * 20, "CRO", 1, "0x" + secrets.token_hex(32)) for i in range(n)]
    return b, rows


async def store(uow, n: int) -> list[int]:
    b, rows = batch(n)
    async with uow() as u:
        await u.batches.add(b, rows)
        await u.commit()
    async with uow() as u:
        return [r.row_id for r in await u.batches.rows(b.id)]


async def test_row_ids_fill_whole_words_and_are_never_shared(uow) -> None:
    first = await store(uow, 300)
    assert first == list(range(first[0], first[0] + 300)) and first[0] % 256 == 0
    second = await store(uow, 1)
    assert second == [first[0] + 512]  # 300 rows took two whole words
    together = await asyncio.gather(*(store(uow, n) for n in (256, 10, 700, 1)))
    ids = [i for ids in together for i in ids] + first + second
    assert len(ids) == len(set(ids)) == 256 + 10 + 700 + 1 + 301
    assert all(ids[0] % 256 == 0 and ids == list(range(ids[0], ids[0] + len(ids))) for ids in together)


async def test_a_rolled_back_batch_leaves_no_gap_and_no_ids(uow) -> None:
    before = await store(uow, 5)
    b, rows = batch(5)
    async with uow() as u:
        await u.batches.add(b, rows)
        await u.rollback()
    after = await store(uow, 5)
    assert after[0] == before[0] + 256
