"""Waiting for RQ worker processes started by a test: registered (start-up done), idle (signal handlers in place)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest


async def wait_for_workers(redis_url: str, procs: list[subprocess.Popen], logs: Path, timeout: float = 20) -> None:
    """Until each of `procs` has registered with Redis as an RQ worker (each has done its start-up resume()).
    Matched by pid: workers killed by an earlier run stay registered for a while and must not count."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    end = time.monotonic() + timeout
    try:
        while not {p.pid for p in procs} <= {w.pid for w in Worker.all(connection=connection)}:
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead or time.monotonic() > end:
                pytest.fail(f"workers did not start (exit codes {dead}):\n{worker_logs(logs)}", pytrace=False)
            await asyncio.sleep(0.05)
    finally:
        connection.close()


async def wait_until_idle(redis_url: str, timeout: float = 20) -> None:
    """Until every registered worker reports `idle`: it is in its dequeue loop, signal handlers in place."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    end = time.monotonic() + timeout
    try:
        while not all(w.get_state() == "idle" for w in Worker.all(connection=connection)):
            if time.monotonic() > end:
                pytest.fail("the worker never became idle", pytrace=False)
            await asyncio.sleep(0.05)
    finally:
        connection.close()


def worker_logs(where: Path) -> str:
    return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in sorted(where.glob("*.log")))
