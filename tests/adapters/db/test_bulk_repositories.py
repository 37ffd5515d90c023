"""Bulk payout storage on SQLite and PostgreSQL: the whole /bulk flow on the real repositories, and chunk claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters.db import create_engine_for
from adapters.db.uow import make_uow_factory
from core.bulk import settle
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.engine import Engine
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, RecordingQueue
from tests.unit.test_bulk_engine import BOB, OP, TESS, addr, batch_id_of, payout_csv


async def test_bulk_flow_on_the_real_database(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        uow = make_uow_factory(engine)
        chain, queue = FakeChain(), RecordingQueue()
        app = Engine(chain=chain, uow=uow, clock=FakeClock(), queue=queue, policy=Policy(operators=frozenset({OP.ref})))
        app.services.bulk = BulkPolicy(chunk_size=3, lease=timedelta(0), receipt_wait=0.01, idle_limit=5)
        chain.refuse.add(addr(4))
        bid = batch_id_of(await app.bulk_upload(OP, "k1", "pay.csv", payout_csv(8, amount="0.123456789012345678")))
        async with uow() as u:
            batch = await u.batches.get(bid)
            rows = await u.batches.rows(bid)
        assert batch.totals == {"CRO": 8 * 123456789012345678} and [r.line for r in rows] == list(range(2, 10))
        assert (await app.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")).kind == "info"
        async with uow() as u:
            first = await u.batches.claim_open_chunks(bid, 2)
            if migrated_url.startswith("postgres"):  # SQLite has one writer at a time: nothing to skip there
                async with uow() as other:  # a second worker skips the chunks the first one holds
                    assert [c.index for c in await other.batches.claim_open_chunks(bid, 5)] == [2]
        assert [c.index for c in first] == [0, 1]
        await asyncio.gather(settle.work(app.services, bid, 0), settle.work(app.services, bid, 1))
        async with uow() as u:
            batch = await u.batches.get(bid)
            rows = await u.batches.rows(bid)
            chunks = await u.batches.chunks(bid)
        assert (batch.status, batch.paid, batch.failed) == (BatchStatus.DONE, 7, 1)
        assert [c.status for c in chunks] == [ChunkStatus.DONE] * 3 and all(c.raw_tx for c in chunks)
        assert sorted(c.nonce for c in chunks) == [0, 1, 2]
        failed = [r for r in rows if r.status is RowStatus.FAILED]
        assert [r.recipient for r in failed] == [addr(4)] and "refused" in failed[0].error
        assert len(chain.paid) == 7 and len(chain.batches_signed) == 3
    finally:
        await engine.dispose()


async def test_batches_of_one_uploader_newest_first(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        uow = make_uow_factory(engine)
        clock = FakeClock()
        app = Engine(chain=FakeChain(), uow=uow, clock=clock, policy=Policy(operators=frozenset({OP.ref})))
        mine = []
        for i in range(3):
            mine.append(batch_id_of(await app.bulk_upload(OP, f"mine-{i}", "pay.csv", payout_csv(2 + i))))
            clock.advance(seconds=1)
        theirs = batch_id_of(await app.bulk_upload(TESS, "theirs", "pay.csv", payout_csv(5)))
        async with uow() as u:
            assert [b.id for b in await u.batches.for_actor(OP.ref, 10)] == mine[::-1]
            assert [b.id for b in await u.batches.for_actor(OP.ref, 2)] == mine[:0:-1]
            assert [b.id for b in await u.batches.for_actor(TESS.ref, 10)] == [theirs]
            assert await u.batches.for_actor("discord:1", 10) == []
    finally:
        await engine.dispose()


async def test_m4_upload_limits_are_counted_in_the_database_across_processes(migrated_url: str) -> None:
    # Two engines (two connection pools, as two bot processes have) and uploads racing each other.
    engines = [create_engine_for(migrated_url), create_engine_for(migrated_url)]
    try:
        clock = FakeClock()
        apps = []
        for e in engines:
            app = Engine(chain=FakeChain(), uow=make_uow_factory(e), clock=clock, policy=Policy(operators=frozenset({OP.ref})))
            app.services.bulk = BulkPolicy(uploads_per_hour=3, rows_per_day=12)
            apps.append(app)
        replies = await asyncio.gather(*(apps[i % 2].bulk_upload(BOB, f"b{i}", "pay.csv", payout_csv(1)) for i in range(8)))
        texts = [r.plain() for r in replies]
        assert sum("checks out" in t for t in texts) == 3, texts
        assert sum("at most 3 files per hour" in t for t in texts) == 5, texts

        first = batch_id_of(await apps[0].bulk_upload(OP, "o1", "a.csv", payout_csv(8)))
        refused = await apps[1].bulk_upload(OP, "o2", "b.csv", payout_csv(5))
        assert "at most 12 rows per day" in refused.plain() and "4 rows left today" in refused.plain()
        async with make_uow_factory(engines[0])() as u:
            assert [b.id for b in await u.batches.for_actor(OP.ref, 10)] == [first]  # nothing stored for the refusal
            assert await u.uploads.add(OP.ref, "day", clock.now().replace(hour=0)) == (0, 8)
        clock.advance(days=1)
        batch_id_of(await apps[1].bulk_upload(OP, "o3", "b.csv", payout_csv(5)))
    finally:
        for e in engines:
            await e.dispose()
