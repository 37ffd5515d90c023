"""Bulk payouts wait out outages of Redis, the RPC node and the database, then finish: each payout once, on chain."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from adapters.chain.devnet import free_port
from bench.bulk import Stack, env_for, payout_file, redis_ok, start_stack, verify_on_chain
from bot.bootstrap import build
from bot.settings import load_settings
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.commands import Actor
from tests.integration.rq_workers import wait_for_workers, wait_until_idle, worker_logs

REPO = Path(__file__).resolve().parents[2]
OPERATOR = Actor("console", "bench", "Bench")  # the operator env_for() configures
CHUNK = 25  # small chunks: the batch lasts long enough for every outage to land mid-batch
OUTAGE = 3.0
# The node is frozen longer than the chain client's 10 s request timeout: requests in flight fail as
# ChainUnavailable while the node, once it wakes, may still act on them (a sent chunk is mined after its
# sender gave up on it), which is where a careless retry would pay twice.
NODE_FREEZE = 11.0

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]


# ------------------------------------------------------------------ the parts
class RedisServer:
    """A private redis-server on a free port, with nothing saved: a restart comes back empty."""

    def __init__(self, log: Path) -> None:
        self.port, self.log = free_port(), log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while not redis_ok(self.url):
            if time.monotonic() > end or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on {self.port}: {self.log.read_text()[-500:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash would: no shutdown save (there is none configured anyway)
            self.process.wait(10)


class TcpProxy:
    """127.0.0.1:<free port> -> target, in this test's event loop. cut() drops every connection and refuses
    new ones, as a network partition or a database restart would; restore() accepts again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.base_events.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.links):
            w.transport.abort()
        self.links.clear()
        await self.server.wait_closed()
        self.server = None

    async def restore(self) -> None:
        await self.start()


def _worker(env: dict[str, str], log: Path, *, simple: bool = True) -> subprocess.Popen:
    args = [sys.executable, "-m", "workers.bulk", *(["--simple"] if simple else [])]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)


class Run:
    """One test's stack: a fresh anvil with the Settlement contract, a fresh database, an app of the test's
    own (direct to the database) that uploads, executes and watches, and workers run with `worker_env`."""

    def __init__(self, stack: Stack, database_url: str, redis_url: str, settings_db: str | None = None) -> None:
        self.stack, self.redis_url, self.database_url = stack, redis_url, database_url
        self.env = {**env_for(stack, database_url, redis_url), "BULK_CHUNK_SIZE": str(CHUNK)}
        self.settings = load_settings(
            bulk_chunk_size=CHUNK, rpc_url=stack.url, private_key=stack.executor_key, chain_id=str(stack.chain_id),
            settlement_contract_address=stack.settlement, database_url=settings_db or database_url,
            redis_url=redis_url, operators=OPERATOR.ref)
        self.app = None
        self.expected: dict[str, int] = {}

    async def open(self) -> None:
        self.app = await build(self.settings)

    async def upload(self, rows: int, seed: int, name: str) -> str:
        data, expected = payout_file(rows, seed=seed)
        assert not set(expected) & set(self.expected)
        self.expected.update(expected)
        preview = await self.app.engine.bulk_upload(OPERATOR, f"{name}-upload", f"{name}.csv", data)
        return next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))

    async def execute(self, batch_id: str) -> None:
        reply = await self.app.engine.handle_text(f"/bulk execute {batch_id}", actor=OPERATOR, key=f"x-{batch_id}")
        assert "Executing" in reply.plain(), reply.plain()

    async def batch(self, batch_id: str):
        async with self.app.uow() as u:
            return await u.batches.get(batch_id)

    async def when(self, batch_id: str, settled: int, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while (await self.batch(batch_id)).settled < settled:
            assert time.monotonic() < end, f"batch {batch_id} stalled before {settled} rows"
            await asyncio.sleep(0.02)

    async def finish(self, batch_ids: list[str], logs: Path, timeout: float = 60) -> None:
        """Every batch DONE with every row PAID, and on chain each recipient holds exactly its amount."""
        end = time.monotonic() + timeout
        for batch_id in batch_ids:
            while (batch := await self.batch(batch_id)).status is not BatchStatus.DONE:
                if time.monotonic() > end:
                    pytest.fail(f"batch {batch_id}: {batch.settled}/{batch.rows} after the outage\n{worker_logs(logs)}",
                                pytrace=False)
                await asyncio.sleep(0.05)
            async with self.app.uow() as u:
                rows, chunks = await u.batches.rows(batch_id), await u.batches.chunks(batch_id)
            assert (batch.paid, batch.failed) == (batch.rows, 0)
            assert all(r.status is RowStatus.PAID and r.tx_hash for r in rows)
            assert all(c.status is ChunkStatus.DONE for c in chunks)
            assert {r.tx_hash for r in rows} <= {c.tx_hash for c in chunks}
        # The chain itself: every fresh recipient holds exactly its amount, so nobody was paid twice or missed.
        assert await verify_on_chain(self.stack.url, self.expected)

    async def close(self) -> None:
        if self.app is not None:
            await self.app.close()
        self.stack.anvil.stop()


async def _outage(run: Run, batch_id: str, at: int, cut: Callable[[], Awaitable[None] | None],
                  restore: Callable[[], Awaitable[None] | None], seconds: float = OUTAGE) -> None:
    """At `at` settled rows, cut for `seconds`, then restore; the batch must still be running at the cut."""
    await run.when(batch_id, at)
    r = cut()
    if r is not None:
        await r
    batch = await run.batch(batch_id)
    assert batch.status is BatchStatus.RUNNING and batch.settled < batch.rows, "the outage missed the batch"
    await asyncio.sleep(seconds)
    r = restore()
    if r is not None:
        await r


@pytest.fixture
def redis(tmp_path):
    """A private redis-server per test: the machine's shared one is never stopped, flushed or crowded."""
    server = RedisServer(tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


# ------------------------------------------------------------------ the tests
async def test_redis_restarts_empty_mid_batch(new_postgres_database, redis, tmp_path) -> None:
    """Redis dies and comes back empty while one batch runs and another waits in the queue behind it. The
    queued jobs are gone with Redis; the workers survive, see Redis come back, and enqueue both running
    batches again from the database."""
    run = Run(await start_stack(treasury_cro=2_000), new_postgres_database(), redis.url)
    workers: list[subprocess.Popen] = []
    try:
        await run.open()
        first, second = await run.upload(1_200, 21, "first"), await run.upload(300, 22, "second")
        workers = [_worker(run.env, tmp_path / "w0.log"), _worker(run.env, tmp_path / "w1.log", simple=False)]
        await wait_for_workers(redis.url, workers, tmp_path)
        await run.execute(first)
        await run.when(first, 1)  # both workers now hold a job of the first batch
        await run.execute(second)  # its jobs wait in Redis behind the first batch's
        await _outage(run, first, 400, redis.stop, redis.start)
        assert (await run.batch(second)).settled == 0, "the second batch started before the outage"
        await run.finish([first, second], tmp_path)
        assert all(p.poll() is None for p in workers), f"a worker quit during the outage\n{worker_logs(tmp_path)}"
    finally:
        for p in workers:
            _stop(p)
        await run.close()


async def test_rpc_node_stops_answering_mid_batch(new_postgres_database, redis, tmp_path) -> None:
    """The node freezes (SIGSTOP) mid-batch: requests hang, then time out; then it answers again."""
    run = Run(await start_stack(treasury_cro=1_500), new_postgres_database(), redis.url)
    workers: list[subprocess.Popen] = []
    anvil = run.stack.anvil.process
    try:
        await run.open()
        batch_id = await run.upload(1_000, 31, "node")
        workers = [_worker(run.env, tmp_path / f"w{i}.log") for i in range(2)]
        await wait_for_workers(redis.url, workers, tmp_path)
        await run.execute(batch_id)
        await _outage(run, batch_id, 300, lambda: anvil.send_signal(signal.SIGSTOP),
                      lambda: anvil.send_signal(signal.SIGCONT), NODE_FREEZE)
        await run.finish([batch_id], tmp_path)
    finally:
        if anvil.poll() is None:
            anvil.send_signal(signal.SIGCONT)
        for p in workers:
            _stop(p)
        await run.close()


async def test_database_unreachable_mid_batch(new_postgres_database, redis, tmp_path) -> None:
    """The workers' database connections drop and new ones are refused for a few seconds mid-batch (a proxy
    between them and the shared PostgreSQL server is cut), then it is reachable again."""
    direct = make_url(new_postgres_database())
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    await proxy.start()
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    run = Run(await start_stack(treasury_cro=1_500), via_proxy, redis.url,
              settings_db=direct.render_as_string(hide_password=False))
    workers: list[subprocess.Popen] = []
    try:
        await run.open()  # migrates the database directly; the test watches it directly too
        batch_id = await run.upload(1_000, 41, "db")
        workers = [_worker(run.env, tmp_path / f"w{i}.log") for i in range(2)]
        await wait_for_workers(redis.url, workers, tmp_path)
        await run.execute(batch_id)
        await _outage(run, batch_id, 300, proxy.cut, proxy.restore)
        await run.finish([batch_id], tmp_path)
    finally:
        for p in workers:
            _stop(p)
        await run.close()
        if proxy.server is not None:
            await proxy.cut()


async def test_worker_still_stops_on_sigterm(redis, tmp_path) -> None:
    """Riding out outages must not swallow a stop: SIGTERM ends an idle worker, simple or forking, with 0."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(REDIS_URL=redis.url, PYTHONPATH=str(REPO))
    for simple in (True, False):
        log = tmp_path / f"{'simple' if simple else 'fork'}.log"
        args = [sys.executable, "-m", "workers.bulk", "--no-resume", *(["--simple"] if simple else [])]
        worker = subprocess.Popen(args, cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            await wait_for_workers(redis.url, [worker], tmp_path)
            await wait_until_idle(redis.url)  # RQ registers itself before it installs its signal handlers
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(10) == 0, log.read_text()[-2000:]
        finally:
            _stop(worker)
