"""RQ jobs that settle bulk payouts: `settle(batch_id, chunk_index)` and `resume()`, plus a worker entry point."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.bootstrap import App, build
from bot.settings import load_settings
from core.bulk import settle as bulk_settle
from workers import process
from workers.process import worker_settings

log = logging.getLogger(__name__)


def settle(batch_id: str, index: int) -> int:
    """Settle chunks of one batch, starting with `index`, until none is left. Safe to run twice, or to kill."""

    async def work(app: App) -> int:
        return await bulk_settle.work(app.engine.services, batch_id, index)

    return process.run(work)


def resume() -> list[str]:
    """Enqueue work for every running batch: after a restart, or when workers were all killed. Not a job: the
    worker calls it before it starts, and its Redis watch from another thread, so it builds an app of its own."""
    return asyncio.run(_resume())


async def _resume() -> list[str]:
    app = await build(worker_settings(), migrate=False, watch=False)
    try:
        return await bulk_settle.resume(app.engine.services)
    finally:
        await app.close()


def resume_quietly() -> bool:
    """resume(), logging instead of raising: the database or the node may be away as well. True if it ran."""
    try:
        resumed = resume()
    except Exception:
        log.warning("could not resume running bulk batches yet; will try again", exc_info=True)
        return False
    if resumed:
        log.info("resumed bulk batches %s", resumed)
    return True


class RedisWatch(threading.Thread):
    """Watches Redis from the side and calls `on_back` whenever it returns after an outage or restarts.

    Redis holds only the queue, and a Redis that restarts may come back empty: jobs queued before the outage
    are gone. The database is the source of truth, so running batches are enqueued again from it. RQ's own
    idle loop reconnects by itself, so the worker never tells us; hence a watcher."""

    def __init__(self, redis_url: str, on_back: Callable[[], bool], every: float = 1.0) -> None:
        super().__init__(name="redis-watch", daemon=True)
        from redis import Redis

        self.connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.on_back, self.every = on_back, every
        self.run_id: str | None = None
        self.owed = False  # an outage was seen and resume() has not run since
        self.stopped = threading.Event()

    def check(self) -> None:
        try:
            run_id = str(self.connection.info("server").get("run_id"))
        except Exception:  # redis' ConnectionError, TimeoutError and the like
            self.owed = True
            return
        if self.run_id is not None and run_id != self.run_id:
            self.owed = True  # restarted between two looks: its queue may be empty
        self.run_id = run_id
        if self.owed and self.on_back():
            self.owed = False

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.check()


def fold_metrics() -> None:
    """With HEALTH_PORT on a forking worker: fold the metrics files of exited job processes into one archive,
    so the directory stays a few files however many jobs ran (adapters.metrics.files). Never raises."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    from adapters.metrics.files import fold_finished

    try:
        fold_finished(Path(directory))
    except Exception:
        log.warning("could not fold finished jobs' metrics files", exc_info=True)


def serve(redis_url: str, *, simple: bool = False, burst: bool = False, resume_first: bool = True,
          with_scheduler: bool = False) -> int:
    """Run an RQ worker on the snowrail queue until it is told to stop, through Redis outages: if RQ's loop
    quits on a lost connection, wait for Redis with backoff and start it again; whenever Redis was away,
    enqueue the running batches again from the database (RedisWatch)."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq import Queue, SimpleWorker, Worker

    process.prepare()  # before any fork: every job process starts with the app's modules loaded
    if resume_first:
        while not resume_quietly() and not burst:
            time.sleep(2.0)
    watch = RedisWatch(redis_url, resume_quietly)
    watch.start()
    connection = Redis.from_url(redis_url)
    base = SimpleWorker if simple else Worker

    class Stoppable(base):  # type: ignore[valid-type,misc]  # a base picked at run time: mypy cannot follow it
        """Remembers a SIGTERM/SIGINT: RQ's loop returns the same way after one as after a lost connection."""

        stop_asked = False

        def request_stop(self, signum, frame):  # noqa: ANN001 - RQ's signal handler signature
            self.stop_asked = True
            super().request_stop(signum, frame)

        def monitor_work_horse(self, job, queue, execution):  # noqa: ANN001 - RQ's signature; forking Worker only
            try:
                super().monitor_work_horse(job, queue, execution)
            finally:
                fold_metrics()  # the job's process has exited: its metrics files join the archive

    delay = 0.5
    try:
        while True:
            worker = None
            try:
                connection.ping()
                worker = Stoppable([Queue("snowrail", connection=connection)], connection=connection)
                worker.work(burst=burst, with_scheduler=with_scheduler)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                pass  # Redis away before or while the worker registered itself
            if burst or (worker is not None and worker.stop_asked):
                return 0
            if worker is not None:
                delay = 0.5  # it was connected: back off afresh from this outage
            log.warning("RQ worker stopped (Redis away?); starting again in %.1f s", delay)
            watch.owed = True
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
    finally:
        watch.stopped.set()


def main(argv: list[str] | None = None) -> int:
    """`python -m workers.bulk [--burst] [--simple] [--no-resume]`: an RQ worker that first resumes
    unfinished batches, and again whenever Redis was away. --simple runs jobs in the worker process itself
    (no fork per job)."""
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
    if settings.health_port is not None:  # /healthz, /readyz and /metrics, as `snowrail run worker` serves them
        from bot.health import serve_in_thread

        serve_in_thread(settings, forks=not args.simple)
    return serve(settings.redis_url, simple=args.simple, burst=args.burst, resume_first=not args.no_resume)


if __name__ == "__main__":
    sys.exit(main())
