"""Bulk payouts survive SIGKILL: RQ workers are killed again and again mid-batch; the chain shows each payout once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.bulk import env_for, payout_file, redis_ok, start_stack, verify_on_chain
from bot.bootstrap import build
from bot.settings import load_settings
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.commands import Actor
from tests.integration.rq_workers import wait_for_workers

REPO = Path(__file__).resolve().parents[2]
OPERATOR = Actor("console", "bench", "Bench")  # the operator env_for() configures
REDIS_URL = os.environ.get("TEST_BULK_REDIS_URL", "redis://127.0.0.1:6379/8")

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    # SimpleWorker: the job runs in this very process, so SIGKILL lands in the middle of the job itself.
    return subprocess.Popen([sys.executable, "-m", "workers.bulk", "--simple"], cwd=REPO, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _kill(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)


async def _batch(app, batch_id):
    async with app.uow() as u:
        return await u.batches.get(batch_id), await u.batches.rows(batch_id), await u.batches.chunks(batch_id)


async def test_workers_killed_mid_batch_pay_every_row_exactly_once(new_postgres_database, tmp_path) -> None:
    if not redis_ok(REDIS_URL):
        pytest.fail(f"Redis is not reachable at {REDIS_URL}", pytrace=False)
    rows = 3_000
    data, expected = payout_file(rows, seed=11)
    stack = await start_stack(treasury_cro=rows + 100)
    # Small chunks make the batch last long enough for every kill to land mid-batch, even on a fast machine.
    env = {**env_for(stack, new_postgres_database(), REDIS_URL), "BULK_CHUNK_SIZE": "25"}
    settings = load_settings(bulk_chunk_size=25, rpc_url=env["RPC_URL"], private_key=env["PRIVATE_KEY"], chain_id=env["CHAIN_ID"],
                             settlement_contract_address=env["SETTLEMENT_CONTRACT_ADDRESS"],
                             database_url=env["DATABASE_URL"], redis_url=REDIS_URL, operators=OPERATOR.ref)
    app = await build(settings)
    workers: list[subprocess.Popen] = []
    try:
        preview = await app.engine.bulk_upload(OPERATOR, "kill-upload", "kill.csv", data)
        batch_id = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
        workers = [_worker(env, tmp_path / f"w{i}.log") for i in range(2)]
        await wait_for_workers(REDIS_URL, workers, tmp_path)  # imports and the first resume() of each worker
        reply = await app.engine.handle_text(f"/bulk execute {batch_id}", actor=OPERATOR, key="kill-execute")
        assert "Executing" in reply.plain(), reply.plain()

        # Kill at progress thresholds (so every kill lands mid-batch however fast the machine), each after a
        # random extra delay so it hits signing, sending, waiting or recording alike.
        rnd, kills, mid_batch, deadline = random.Random(5), 0, 0, time.monotonic() + 240
        thresholds = [rows * k // 10 for k in range(1, 9)]
        while time.monotonic() < deadline:
            batch, _, _ = await _batch(app, batch_id)
            if batch.status is BatchStatus.DONE:
                break
            if thresholds and batch.settled >= thresholds[0]:
                thresholds.pop(0)
                await asyncio.sleep(rnd.uniform(0, 0.15))
                victim = rnd.randrange(len(workers))
                _kill(workers[victim])
                kills += 1
                mid_batch += (await _batch(app, batch_id))[0].status is BatchStatus.RUNNING
                workers[victim] = _worker(env, tmp_path / f"w{victim}.log")  # resumes running batches
            await asyncio.sleep(0.02)
        batch, stored, chunks = await _batch(app, batch_id)
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in tmp_path.glob("w*.log"))
        assert batch.status is BatchStatus.DONE, f"{batch.settled}/{batch.rows} after {kills} kills\n{logs}"
        assert mid_batch >= 3, f"only {mid_batch} of {kills} kills landed mid-batch: make the batch larger"
        assert (batch.paid, batch.failed) == (rows, 0)
        assert all(r.status is RowStatus.PAID and r.tx_hash for r in stored)
        assert all(c.status is ChunkStatus.DONE for c in chunks)
        # The chain itself: every fresh recipient holds exactly its amount, so nobody was paid twice or missed.
        assert await verify_on_chain(stack.url, expected)
        mined = {c.tx_hash for c in chunks}
        assert {r.tx_hash for r in stored} <= mined
    finally:
        for p in workers:
            _kill(p)
        await app.close()
        stack.anvil.stop()
