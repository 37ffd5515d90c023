"""Bulk chunks that do not go through at once: stuck in the pool, refused as underpriced, out of gas, never sent."""

from datetime import timedelta

import pytest

from core.bulk import settle, stuck
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.engine import Engine
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.unit.test_bulk_engine import OP, batch_id_of, payout_csv


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=Policy(operators=frozenset({OP.ref})))
    engine.services.bulk = BulkPolicy(chunk_size=4, lease=timedelta(seconds=30), receipt_wait=0.01, idle_limit=5,
                                      lanes=1, in_flight=1)
    return engine, chain, db, clock


async def started(engine, rows: int = 4) -> str:
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(rows)))
    reply = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    assert "Executing" in reply.plain(), reply.plain()
    return bid


def paid_once(chain: FakeChain, rows: int) -> bool:
    return len(chain.paid_rows) == rows and sum(chain.received.values()) == rows * 5 * 10**17


async def test_a_chunk_stuck_in_the_pool_is_replaced_with_the_same_nonce_and_a_higher_fee(world):
    engine, chain, db, clock = world
    bid = await started(engine)
    chain.hold_batches = True  # its fee is too low for the chain: it waits in the pool, unmined
    group = await settle._claim_and_sign(engine.services, bid, 1)
    assert await settle._send_and_record(engine.services, bid, group) == 0
    chain.hold_batches = False
    assert await stuck.take_stale(engine.services, bid, 4) == []  # within its lease: left alone
    clock.advance(seconds=31)
    await settle.work(engine.services, bid, 0)

    assert [n for _, n in chain.batches_signed] == [group[0].nonce] * 2  # one nonce, signed twice
    assert chain.batch_bumps == [0, 1]  # the replacement offers a higher fee
    assert chain.sent.count(group[0].tx_hash.encode()) == 1  # the stuck bytes were not sent again as they are
    assert paid_once(chain, 4)
    async with engine.services.uow() as uow:
        batch = await uow.batches.get(bid)
        chunk = (await uow.batches.chunks(bid))[0]
        rows = await uow.batches.rows(bid)
    assert batch.status is BatchStatus.DONE and batch.paid == 4
    assert chunk.status is ChunkStatus.DONE and chunk.tx_hash != group[0].tx_hash and chunk.attempts == 2
    assert {r.tx_hash for r in rows} == {chunk.tx_hash}


async def test_an_underpriced_replacement_is_raised_again_at_once(world):
    engine, chain, db, clock = world
    bid = await started(engine)
    chain.underpriced = 2  # the node refuses the first two signings: a same-nonce transaction pays more
    await settle.work(engine.services, bid, 0)
    nonces = [n for _, n in chain.batches_signed]
    assert len(set(nonces)) == 1 and chain.batch_bumps == [0, 1, 2]
    assert paid_once(chain, 4)
    async with engine.services.uow() as uow:
        assert (await uow.batches.get(bid)).paid == 4


async def test_a_chunk_that_ran_out_of_gas_is_signed_again_and_its_rows_paid(world):
    engine, chain, db, clock = world
    bid = await started(engine)
    chain.out_of_gas = 1  # the batch grew dearer after its estimate: it reverts whole and pays nobody
    await settle.work(engine.services, bid, 0)
    assert len(chain.batches_signed) == 2 and chain.batches_signed[0][1] != chain.batches_signed[1][1]
    assert paid_once(chain, 4)
    async with engine.services.uow() as uow:
        batch = await uow.batches.get(bid)
        rows = await uow.batches.rows(bid)
    assert batch.paid == 4 and batch.failed == 0 and all(r.status is RowStatus.PAID for r in rows)
    assert batch.gas_used >= 1_000_000  # the reverted transaction's gas is counted too


async def test_rows_fail_once_a_chunk_ran_out_of_gas_max_attempts_times(world):
    engine, chain, db, clock = world
    bid = await started(engine)
    chain.out_of_gas = 10
    await settle.work(engine.services, bid, 0)
    assert len(chain.batches_signed) == engine.services.bulk.max_attempts and not chain.paid_rows
    async with engine.services.uow() as uow:
        rows = await uow.batches.rows(bid)
    assert all(r.status is RowStatus.FAILED and "out of gas" in (r.error or "") for r in rows)


async def test_rows_an_earlier_transaction_paid_keep_its_hash_when_their_chunk_is_signed_again(world):
    engine, chain, db, clock = world
    bid = await started(engine)
    chain.hold_batches = True
    group = await settle._claim_and_sign(engine.services, bid, 1)
    await settle._send_and_record(engine.services, bid, group)
    first = group[0].tx_hash
    clock.advance(seconds=31)
    bumped = await stuck.take_stale(engine.services, bid, 4)  # stuck: replaced with the same nonce, a higher fee
    await settle._send_and_record(engine.services, bid, bumped)
    assert bumped[0].tx_hash != first
    # The first transaction is mined after all and pays the rows; its replacement never can (one nonce).
    chain.hold_batches = False
    chain.held.discard(first)
    await chain.broadcast(first.encode())
    chain.nonces_used.add(group[0].nonce)
    clock.advance(seconds=31)
    await settle.work(engine.services, bid, 0)  # opened again, signed under a new nonce, its rows found paid

    assert len({n for _, n in chain.batches_signed}) == 2 and paid_once(chain, 4)
    async with engine.services.uow() as uow:
        batch = await uow.batches.get(bid)
        chunk = (await uow.batches.chunks(bid))[0]
        rows = await uow.batches.rows(bid)
    assert batch.status is BatchStatus.DONE and batch.paid == 4 and batch.failed == 0
    assert chunk.tx_hash not in (first, bumped[0].tx_hash)  # the chunk's last transaction (its fee is counted)
    assert all(r.status is RowStatus.PAID for r in rows)
    assert {r.tx_hash for r in rows} == {first}  # the transaction that paid them, not the one that found them paid
