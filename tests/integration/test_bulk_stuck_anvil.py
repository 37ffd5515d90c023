"""A bulk chunk stuck behind a low fee on an interval-mining anvil is replaced with the same nonce and a higher fee."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.chain.rpc import HttpNode
from bench.bulk import start_stack
from core.bulk.model import ChunkStatus
from tests.integration.rq_workers import wait_for_workers, worker_logs
from tests.integration.test_bulk_outages import CHUNK, Run, _stop, _worker, redis  # noqa: F401  (its private redis-server fixture)

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]




async def _chunks(run: Run, batch_id: str):
    async with run.app.uow() as u:
        return await u.batches.chunks(batch_id)


async def test_a_chunk_stuck_behind_a_low_fee_is_replaced_with_the_same_nonce(new_postgres_database, redis,
                                                                              tmp_path) -> None:
    run = Run(await start_stack(treasury_cro=1_000, block_time=1), new_postgres_database(), redis.url)
    node = HttpNode(run.stack.url)
    workers = []
    try:
        await run.open()
        workers = [_worker(run.env, tmp_path / "w0.log")]
        await wait_for_workers(redis.url, workers, tmp_path)
        batch_id = await run.upload(CHUNK, seed=11, name="stuck")  # one chunk

        # No blocks while the chunk is signed and sent, at the fee the chain asks for now...
        await node.request("evm_setIntervalMining", [0])
        await run.execute(batch_id)
        end = time.monotonic() + 30
        while not [c for c in await _chunks(run, batch_id) if c.status is ChunkStatus.SIGNED and c.tx_hash]:
            assert time.monotonic() < end, f"the chunk was never signed\n{worker_logs(tmp_path)}"
            await asyncio.sleep(0.05)
        (stuck,) = await _chunks(run, batch_id)
        first = await node.transaction(stuck.tx_hash)
        assert first is not None, "the chunk was signed but never sent"
        offered = first["fees"]["max_fee_per_gas"]
        # ...then the base fee jumps far above what it offers: it cannot be mined, block after block.
        await node.request("anvil_setNextBlockBaseFeePerGas", [hex(100 * offered)])
        await node.request("evm_setIntervalMining", [1])

        await run.finish([batch_id], tmp_path, timeout=90)  # each row paid exactly once, on chain too
        (done,) = await _chunks(run, batch_id)
        assert done.status is ChunkStatus.DONE and done.nonce == stuck.nonce  # the same nonce...
        assert done.tx_hash != stuck.tx_hash and done.attempts >= 2  # ...in a replacement transaction
        replacement = await node.transaction(done.tx_hash)
        assert replacement is not None and replacement["fees"]["max_fee_per_gas"] > offered
        assert await node.receipt(stuck.tx_hash) is None  # the stuck one never was mined
    finally:
        for p in workers:
            _stop(p)
        await node.close()
        await run.close()
