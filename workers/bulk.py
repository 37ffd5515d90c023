"""RQ jobs that settle bulk payouts: `settle(batch_id, chunk_index)` and `resume()`, plus a worker entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.bootstrap import build
from bot.settings import load_settings
from core.bulk import settle as bulk_settle
from workers.jobs import worker_settings


def settle(batch_id: str, index: int) -> int:
    """Settle chunks of one batch, starting with `index`, until none is left. Safe to run twice, or to kill."""
    return asyncio.run(_settle(batch_id, index))


async def _settle(batch_id: str, index: int) -> int:
    app = await build(worker_settings(), migrate=False)
    try:
        return await bulk_settle.work(app.engine.services, batch_id, index)
    finally:
        await app.close()


def resume() -> list[str]:
    """Enqueue work for every running batch: after a restart, or when workers were all killed."""
    return asyncio.run(_resume())


async def _resume() -> list[str]:
    app = await build(worker_settings(), migrate=False)
    try:
        return await bulk_settle.resume(app.engine.services)
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m workers.bulk [--burst] [--simple] [--no-resume]`: an RQ worker that first resumes
    unfinished batches. --simple runs jobs in the worker process itself (no fork per job)."""
    from redis import Redis
    from rq import Queue, SimpleWorker, Worker

    p = argparse.ArgumentParser(prog="python -m workers.bulk")
    p.add_argument("--burst", action="store_true")
    p.add_argument("--simple", action="store_true")
    p.add_argument("--no-resume", action="store_true")
    args = p.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.require("redis_url")
    assert settings.redis_url
    if not args.no_resume:
        resume()
    connection = Redis.from_url(settings.redis_url)
    cls = SimpleWorker if args.simple else Worker
    cls([Queue("snowrail", connection=connection)], connection=connection).work(burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
