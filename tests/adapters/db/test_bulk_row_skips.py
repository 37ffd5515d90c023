"""Bulk row ids on SQLite and PostgreSQL past what the chain has used: the counter only moves forward, ids core
gives are kept (and rewritten on retry), and a chunk keeps every transaction signed for it."""

from __future__ import annotations

from core.bulk.model import Chunk, ChunkStatus

from .test_bulk_row_ids import batch, store


async def test_the_counter_skips_forward_only_and_core_given_ids_are_kept(uow) -> None:
    first = await store(uow, 1)
    async with uow() as u:
        await u.batches.skip_row_ids(first[0] + 10 * 256)
        await u.batches.skip_row_ids(first[0] + 3 * 256)  # behind it now: no move back
        await u.commit()
    assert await store(uow, 1) == [first[0] + 10 * 256]
    async with uow() as u:
        reserved = await u.batches.reserve_row_ids(300)
        b, rows = batch(3)
        for i, r in enumerate(rows):
            r.row_id = reserved + 7 * i
        await u.batches.add(b, rows)
        await u.commit()
    assert reserved == first[0] + 11 * 256
    async with uow() as u:
        stored = await u.batches.rows(b.id)
        assert [r.row_id for r in stored] == [reserved, reserved + 7, reserved + 14]
        stored[1].row_id = reserved + 256  # a retried row given a fresh id
        await u.batches.save_rows(stored)
        await u.commit()
    async with uow() as u:
        assert [r.row_id for r in await u.batches.rows(b.id)] == [reserved, reserved + 256, reserved + 14]
    assert await store(uow, 1) == [first[0] + 13 * 256]  # the 300 rows reserved two words


async def test_a_chunk_keeps_every_transaction_signed_for_it(uow) -> None:
    b, rows = batch(2)
    async with uow() as u:
        await u.batches.add(b, rows)
        await u.batches.add_chunks([Chunk(b.id, 0, 0, 2)])
        await u.commit()
    for tx in ("0x" + "a1" * 32, "0x" + "b2" * 32):
        async with uow() as u:
            chunk = await u.batches.chunk(b.id, 0, for_update=True)
            chunk.status = ChunkStatus.SIGNED
            chunk.signed(tx)
            await u.batches.save_chunk(chunk)
            await u.commit()
    async with uow() as u:
        (chunk,) = await u.batches.chunks(b.id)
    assert chunk.tx_hash == "0x" + "b2" * 32 and chunk.signed_hashes == ("0x" + "a1" * 32, "0x" + "b2" * 32)
