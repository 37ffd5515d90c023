"""Bulk row ids never collide with rows the contract already paid: a database behind its contract (a fresh one, a
restored backup) gets fresh ids when its batch starts, and a row paid by another batch's transaction fails,
alerted, instead of being recorded as paid."""

from datetime import timedelta

import pytest

from core.bulk import rowids, settle
from core.bulk.model import BatchStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.engine import Engine
from core.model import NotificationType
from core.replies import loads
from core.services import Policy
from tests.fakes import TREASURY, FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.unit.test_bulk_engine import OP, addr, batch_id_of, payout_csv

ADMIN = "telegram:900"
FOREIGN = "0x" + "f0" * 32  # a transaction of another database's batch, on the same contract


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    policy = Policy(operators=frozenset({OP.ref}), admins=frozenset({ADMIN}))
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=policy)
    engine.services.bulk = BulkPolicy(chunk_size=50, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    chain.balances[TREASURY.lower(), "CRO"] = 1_000 * 10**18
    return engine, chain, db


def paid_elsewhere(chain: FakeChain, *row_ids: int) -> None:
    """Row ids the contract paid in a transaction of another batch (another database's)."""
    for i in row_ids:
        chain.paid_rows.add(i)
        chain.row_paid_tx[i] = FOREIGN


async def upload(engine, key: str, rows: int) -> str:
    return batch_id_of(await engine.bulk_upload(OP, key, "pay.csv", payout_csv(rows)))


async def execute(engine, bid: str, key: str) -> None:
    reply = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key=key)
    assert "Executing" in reply.plain(), reply.plain()


async def rows_of(engine, bid: str):
    async with engine.services.uow() as uow:
        return await uow.batches.get(bid), await uow.batches.rows(bid)


def received(chain: FakeChain, rows: int) -> int:
    return sum(chain.received.get((addr(i), "CRO"), 0) for i in range(rows))


async def test_a_batch_in_step_with_the_contract_keeps_its_ids_after_one_read(world):
    engine, chain, db = world
    bid = await upload(engine, "k1", 300)
    await execute(engine, bid, "k2")
    assert chain.word_reads == [(0, 1)]  # one round trip for the batch's two words, none per row
    _, rows = await rows_of(engine, bid)
    assert [r.row_id for r in rows] == list(range(300))


async def test_a_database_behind_its_contract_skips_the_used_words_and_takes_free_ones_after_a_gap(world):
    engine, chain, db = world
    # The contract paid rows in words 0-2 and 6 (another database, or this one before a backup was restored).
    paid_elsewhere(chain, 5, 256 + 255, 2 * 256, 6 * 256 + 1)
    bid = await upload(engine, "k1", 300)  # stored with ids 0..299 (words 0 and 1): the chain is not asked yet
    await execute(engine, bid, "k2")
    _, rows = await rows_of(engine, bid)
    # Words 2-3 were the first span tried (2 in use); then 4-5, free even though word 6 is used.
    assert [r.row_id for r in rows] == list(range(4 * 256, 4 * 256 + 300))
    assert len(chain.word_reads) == 3  # its own words, then a span and a window twice as wide
    await settle.work(engine.services, bid, 0)
    batch, rows = await rows_of(engine, bid)
    assert batch.status is BatchStatus.DONE and batch.paid == 300 and batch.failed == 0
    assert received(chain, 300) == 300 * 5 * 10**17  # every recipient got their payout
    nxt = await upload(engine, "k3", 1)
    await execute(engine, nxt, "k4")
    assert [r.row_id for r in (await rows_of(engine, nxt))[1]] == [7 * 256]  # stored in word 6, moved past it


async def test_a_row_paid_by_another_batchs_transaction_fails_alerted_and_retry_pays_it_under_a_new_id(world):
    engine, chain, db = world
    bid = await upload(engine, "k1", 6)
    await execute(engine, bid, "k2")
    _, rows = await rows_of(engine, bid)
    taken = rows[4].row_id
    paid_elsewhere(chain, taken)  # after the batch started: its check could not see it
    await settle.work(engine.services, bid, 0)

    batch, rows = await rows_of(engine, bid)
    assert batch.paid == 5 and batch.failed == 1
    assert rows[4].status is RowStatus.FAILED and rows[4].error == rowids.COLLISION
    assert received(chain, 6) == 5 * 5 * 10**17 and chain.received.get((addr(4), "CRO"), 0) == 0
    alerts = [(n.user_ref, loads(n.body).plain()) for n in db.store.outbox if n.type is NotificationType.SECURITY_ALERT]
    assert [ref for ref, _ in alerts] == [ADMIN]
    text = alerts[0][1]
    assert "row ids already used on chain" in text and bid in text and str(taken) in text and FOREIGN in text
    assert "marked failed, not paid" in text and f"/bulk retry {bid}" in text

    before = [r.row_id for r in rows]
    reply = await engine.handle_text(f"/bulk retry {bid}", actor=OP, key="k3")
    assert "Retrying" in reply.plain(), reply.plain()
    _, rows = await rows_of(engine, bid)
    assert rows[4].row_id not in (None, taken) and rows[4].row_id % 256 == 0  # a fresh word of its own
    assert [r.row_id for r in rows if r.seq != 4] == [i for i in before if i != taken]  # the paid rows keep theirs
    await settle.work(engine.services, bid, 0)
    batch, rows = await rows_of(engine, bid)
    assert batch.status is BatchStatus.DONE and batch.paid == 6 and batch.failed == 0
    assert chain.received[(addr(4), "CRO")] == 5 * 10**17 and received(chain, 6) == 6 * 5 * 10**17


async def test_a_failed_row_of_another_kind_keeps_its_id_on_retry(world):
    engine, chain, db = world
    bid = await upload(engine, "k1", 2)
    await execute(engine, bid, "k2")
    chain.refuse.add(addr(1))
    await settle.work(engine.services, bid, 0)
    before = {r.seq: r.row_id for r in (await rows_of(engine, bid))[1]}
    chain.refuse.clear()
    reads = len(chain.word_reads)
    await engine.handle_text(f"/bulk retry {bid}", actor=OP, key="k3")
    await settle.work(engine.services, bid, 0)
    batch, rows = await rows_of(engine, bid)
    assert {r.seq: r.row_id for r in rows} == before and len(chain.word_reads) == reads  # the contract guards it
    assert batch.paid == 2 and received(chain, 2) == 2 * 5 * 10**17
