"""HEALTH_PORT: /healthz, /readyz (database, Redis, RPC) and Prometheus /metrics, in-process and beside the real
`snowrail run telegram` and `snowrail run worker` processes."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.metrics.prometheus import PrometheusMetrics
from bot.bootstrap import build
from bot.health import HealthServer, sample
from bot.settings import Settings
from core.commands import Actor
from core.jobs import Job
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
REDIS = "redis://127.0.0.1:6379/12"
OP = Actor("console", "op", "Operator")
RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


def series(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, or None when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}" + (rf"\{{[^}}]*{re.escape(want)}[^}}]*\}}" if want else r"(\{[^}]*\})?") + r" (?P<value>\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group("value")) if found else None


async def wait_for_series(url: str, name: str, proc: subprocess.Popen, **labels: str) -> str:
    """Scrape until the sample shows up (the process counts it once its work ran); fails if the process died."""
    for _ in range(600):
        assert proc.poll() is None, "the process stopped"
        try:
            status, text = await get(url)
        except aiohttp.ClientError:
            status, text = 0, ""
        if status == 200 and series(text, name, **labels):
            return text
        await asyncio.sleep(0.1)
    shown = "\n".join(x for x in text.splitlines() if x.startswith(name))
    raise AssertionError(f"{name}{labels} never appeared at {url}:\n{shown}")


@pytest.fixture
def real(anvil_stack, new_postgres_database, tmp_path) -> Settings:
    env = {**anvil_stack.env(), "DATABASE_URL": new_postgres_database(), "REDIS_URL": REDIS, "OPERATORS": OP.ref}
    return Settings(_env_file=None, data_dir=tmp_path, health_listen="127.0.0.1", **{k.lower(): v for k, v in env.items()})


async def test_readyz_names_what_is_down_and_healthz_stays_alive(real):
    up = await HealthServer(real, PrometheusMetrics(), port=0).start()
    down = await HealthServer(real.model_copy(update={"redis_url": "redis://:pw@127.0.0.1:1/0"}),
                              PrometheusMetrics(), port=0).start()
    try:
        status, body = await get(f"http://127.0.0.1:{up.port}/readyz")
        assert status == 200 and '"database": "ok"' in body and '"redis": "ok"' in body and '"rpc": "ok"' in body
        status, body = await get(f"http://127.0.0.1:{down.port}/readyz")
        assert status == 503 and '"redis": "ConnectionError"' in body and '"database": "ok"' in body and "pw" not in body
        assert (await get(f"http://127.0.0.1:{down.port}/healthz"))[0] == 200
    finally:
        await up.stop()
        await down.stop()


async def test_a_payment_shows_in_the_metrics(real):
    metrics = PrometheusMetrics()
    app = await build(real, metrics=metrics)
    try:
        reply = await app.engine.handle_text(f"/pay {RECIPIENT} 1 CRO", actor=OP, key="m-" + secrets.token_hex(4))
        assert "confirmed" in reply.plain()
        await app.engine.handle_text("/frobnicate", actor=OP, key="m-" + secrets.token_hex(4))
        await sample(app)
    finally:
        await app.close()
    text = metrics.exposition().decode()
    assert series(text, "snowrail_commands_total", command="pay", outcome="ok") == 1
    assert series(text, "snowrail_commands_total", command="other", outcome="invalid") == 1  # no label per typo
    assert series(text, "snowrail_payments_total", status="confirmed") == 1
    assert series(text, "snowrail_payment_latency_seconds_count", status="confirmed") == 1
    assert series(text, "snowrail_rpc_requests_total", method="eth_sendRawTransaction", outcome="ok") >= 1
    assert series(text, "snowrail_rpc_latency_seconds_count", method="eth_chainId") >= 1
    assert series(text, "snowrail_balance", account="treasury", token="CRO") > 0
    assert series(text, "snowrail_balance", account="executor", token="CRO") > 0
    assert series(text, "snowrail_nonce_gap") == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.Popen:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    out, err = (tmp_path / "stdout").open("w"), (tmp_path / "stderr").open("w")  # files: a full pipe would stall it
    return subprocess.Popen([SNOWRAIL, *args], cwd=tmp_path, env={**base, **env}, stdout=out, stderr=err)


async def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(proc.wait, 30)  # the fake server shares this loop: keep it answering


async def test_run_telegram_serves_health_and_counts_commands(tmp_path):
    api = await FakeBotApi(token="888:health-fake-token-abc").start()
    person = Person(1001, "Olga", "olga")
    api.started.add(person.id)
    port = _free_port()
    proc = _spawn(["run", "telegram"], {**api.env(), "OPERATORS": f"telegram:{person.id}", "HEALTH_PORT": str(port),
                                        "HEALTH_LISTEN": "127.0.0.1", "LOG_FORMAT": "json"}, tmp_path)
    try:
        while api.polls == 0:
            assert proc.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
            await asyncio.sleep(0.1)
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and '"ready": true' in body  # the embedded default: nothing outside to depend on
        await api.ask(person, person.dm, "/help")
        await wait_for_series(f"http://127.0.0.1:{port}/metrics", "snowrail_commands_total", proc, command="help")
    finally:
        await _stop(proc)
        await api.stop()
    assert proc.returncode == 0
    logged = (tmp_path / "stderr").read_text()
    assert api.token.split(":")[1] not in logged
    assert all(line.startswith("{") for line in logged.splitlines() if line.strip())  # LOG_FORMAT=json


async def test_run_worker_serves_health_and_the_forked_jobs_metrics(anvil_stack, new_postgres_database, tmp_path):
    from adapters.db.migrate import upgrade
    from rq.job import Job as RqJob

    from adapters.queue.rq_queue import RqQueue
    from workers.registry import RQ_FUNCTIONS

    db = new_postgres_database()
    await upgrade(db)
    port = _free_port()
    env = {**anvil_stack.env(), "DATABASE_URL": db, "REDIS_URL": REDIS, "HEALTH_PORT": str(port),
           "HEALTH_LISTEN": "127.0.0.1"}
    proc = _spawn(["run", "worker"], env, tmp_path)
    try:
        for _ in range(300):
            try:
                if (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200:
                    break
            except aiohttp.ClientError:
                pass
            assert proc.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
            await asyncio.sleep(0.1)
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and '"database": "ok"' in body and '"redis": "ok"' in body and '"rpc": "ok"' in body
        queue, job_id = RqQueue(REDIS, RQ_FUNCTIONS), "health-" + secrets.token_hex(4)
        queue.enqueue(Job.RECONCILE, job_id=job_id)
        while (status := RqJob.fetch(job_id, connection=queue.connection).get_status()) != "finished":
            assert status != "failed" and proc.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
            await asyncio.sleep(0.1)
        queue.connection.close()
        # The job ran in a forked child; its chain calls reach the parent's /metrics through the shared directory.
        await wait_for_series(f"http://127.0.0.1:{port}/metrics", "snowrail_rpc_requests_total", proc,
                              method="eth_chainId", outcome="ok")
    finally:
        await _stop(proc)
    assert proc.returncode == 0, (tmp_path / "stderr").read_text()[-2000:]
