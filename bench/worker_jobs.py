"""Worker job start-up benchmark: N deliver_notifications jobs on a forking RQ worker (a process per job, as
`snowrail run worker`) beside a SimpleWorker baseline, on a fresh anvil, PostgreSQL and Redis: jobs/s, CPU per job.
`--profile` also profiles one app build as a job process makes it (cProfile, top entries by cumulative time)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bench.bulk import (env_for, fresh_postgres, redis_ok, registered, start_stack, start_workers, stop,
                        worker_cpu_seconds)

JOB = "workers.jobs.deliver_notifications"


async def _drain(redis_url: str, jobs: int, procs, timeout: float) -> tuple[float, float]:
    """Enqueue `jobs` trivial deliveries and wait until all finished: (seconds, worker CPU seconds)."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    try:
        queue = Queue("snowrail", connection=connection)
        cpu, t = worker_cpu_seconds(procs), time.perf_counter()
        enqueued = [queue.enqueue(JOB, result_ttl=600) for _ in range(jobs)]
        end = time.monotonic() + timeout
        while True:
            statuses = [j.get_status(refresh=True) for j in enqueued]
            if all(s in ("finished", "failed") for s in statuses):
                break
            if time.monotonic() > end or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"jobs not done: {statuses.count('finished')} of {jobs} finished")
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - t
        failed = statuses.count("failed")
        if failed:
            raise RuntimeError(f"{failed} of {jobs} jobs failed: see the worker logs in BENCH_LOG_DIR")
        # The last job process is reaped (its CPU counted into the worker's) once the worker saw it exit.
        await asyncio.sleep(0.3)
        return seconds, worker_cpu_seconds(procs) - cpu
    finally:
        connection.close()


async def _one(env: dict[str, str], redis_url: str, jobs: int, *, forking: bool, log_dir: Path) -> dict:
    procs = start_workers(1, env, log_dir, forking=forking)
    try:
        await registered(redis_url, procs)
        await _drain(redis_url, 1, procs, timeout=60)  # the SimpleWorker's first build is start-up, not per job
        seconds, cpu = await _drain(redis_url, jobs, procs, timeout=max(60.0, jobs * 5.0))
    finally:
        stop(procs)
    return {"jobs": jobs, "seconds": round(seconds, 2), "jobs_per_s": round(jobs / seconds, 1),
            "cpu_ms_per_job": round(1000 * cpu / jobs, 1)}


def profile_build(env: dict[str, str], top: int = 25) -> str:
    """One job process's app build, profiled in a child forked from a warmed-up worker process (as RQ forks)."""
    import subprocess

    code = ("import cProfile, pstats, io, os, sys\n"
            "from workers import bulk, jobs, process\n"
            "process.prepare()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    p = cProfile.Profile(); p.enable(); jobs.deliver_notifications(); p.disable()\n"
            "    s = io.StringIO(); pstats.Stats(p, stream=s).sort_stats('cumulative').print_stats(%d)\n"
            "    sys.stdout.write(s.getvalue()); sys.stdout.flush(); os._exit(0)\n"
            "os.waitpid(pid, 0)\n" % top)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1]).stdout


async def run(jobs: int = 50, *, profile: bool = False, log=print) -> dict:
    stack = await start_stack(treasury_cro=100)
    try:
        database_url = os.environ.get("BENCH_DATABASE_URL") or await fresh_postgres(
            os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
        if database_url is None or not redis_ok(redis_url):
            raise SystemExit("the worker benchmark needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)")
        from adapters.db.migrate import upgrade

        await upgrade(database_url)
        env = env_for(stack, database_url, redis_url)
        log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
        simple = await _one(env, redis_url, jobs, forking=False, log_dir=log_dir)
        log(f"SimpleWorker (baseline): {simple}")
        forking = await _one(env, redis_url, jobs, forking=True, log_dir=log_dir)
        log(f"forking Worker: {forking}")
        if profile:
            log(profile_build(env))
        return {"simple": simple, "forking": forking}
    finally:
        stack.anvil.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.worker_jobs")
    p.add_argument("--jobs", type=int, default=50)
    p.add_argument("--profile", action="store_true", help="also cProfile one job process's app build")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    result = asyncio.run(run(args.jobs, profile=args.profile, log=out))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
