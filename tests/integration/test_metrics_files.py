"""A forking RQ worker with HEALTH_PORT: its /metrics adds up every job, while its metrics directory holds a few
files however many jobs ran (each job's process leaves its own files; the worker folds them into an archive)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.integration.test_health import _free_port, get, series

pytestmark = [pytest.mark.redis]

REDIS = "redis://127.0.0.1:6379/5"
REPO = Path(__file__).resolve().parents[2]
JOBS = 50
# The parent's own files, the archive's (counter, histogram, gauge) and at most one job's process not folded yet.
MOST_FILES = 9


def _files(data_dir: Path) -> list[str]:
    return sorted(p.name for d in data_dir.glob("metrics-*") for p in d.iterdir())


async def test_a_forking_worker_counts_every_job_with_a_bounded_number_of_files(tmp_path):
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(REDIS)
    connection.flushdb()
    port = _free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PYTHONPATH": str(REPO), "REDIS_URL": REDIS, "HEALTH_PORT": str(port), "HEALTH_LISTEN": "127.0.0.1",
           "DATA_DIR": str(tmp_path / "data")}
    stale = tmp_path / "data" / "metrics-999999999"  # left by a worker that exited long ago (no such pid)
    stale.mkdir(parents=True)
    (stale / "counter_123.db").write_bytes(b"")
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "workers.bulk", "--no-resume"], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # forking: one process per job
    try:
        queue = Queue("snowrail", connection=connection)
        jobs = [queue.enqueue("tests.integration.metrics_jobs.record", i) for i in range(JOBS)]
        most, scrapes = 0, 0
        while not all(job.get_status(refresh=True) == "finished" for job in jobs):
            assert proc.poll() is None and not any(job.is_failed for job in jobs), (tmp_path / "worker.log").read_text()
            most = max(most, len(_files(tmp_path / "data")))
            try:  # scraped meanwhile: reading the directory while it is folded
                scrapes += (await get(f"http://127.0.0.1:{port}/metrics"))[0] == 200
            except aiohttp.ClientError:
                pass  # not serving yet
            await asyncio.sleep(0.05)
        status, text = await get(f"http://127.0.0.1:{port}/metrics")
        files = _files(tmp_path / "data")
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        connection.flushdb()
        connection.close()
    assert status == 200 and scrapes > 0
    assert series(text, "snowrail_commands_total", command="probe", outcome="ok") == JOBS
    assert series(text, "snowrail_payment_latency_seconds_count", status="confirmed") == JOBS
    assert series(text, "snowrail_payment_latency_seconds_sum", status="confirmed") == sum(i % 7 for i in range(JOBS))
    assert series(text, "snowrail_payment_latency_seconds_bucket", le="5.0", status="confirmed") == sum(
        i % 7 <= 5 for i in range(JOBS))
    assert series(text, "snowrail_nonce_gap") == JOBS - 1  # the most recent job's
    assert not stale.exists()
    assert {"counter_archive.db", "histogram_archive.db", "gauge_mostrecent_archive.db"} <= set(files)
    assert len(files) <= MOST_FILES and most <= MOST_FILES, files  # 3 files per job otherwise: 150 here
