"""What the Redis rate-limit check adds per command: engine.handle of a cheap command (/help) with the Redis limiter
and without any, interleaved in the same run on the same database, p50/p95 of each and the difference.

    .venv/bin/python bench/rate_limit.py [-n 2000] [--users 200] [--redis redis://127.0.0.1:6379/15]

Requirement: the check adds <= 1 ms p95 per command. Uses the embedded default (in-process chain, SQLite) and a
Redis database (BENCH_REDIS_URL, default db 15), deleting only the keys it made (a prefix of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.limits.redis_limiter import RedisRateLimiter  # noqa: E402
from bot.bootstrap import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.commands import Actor, Help  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.ratelimit import Rate, RateLimits  # noqa: E402

REQUIREMENT_MS = 1.0


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


async def measure(n: int, users: int, redis_url: str) -> dict[str, object]:
    app = await build(Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()), database_url=None, redis_url=None,
                               rpc_url=None))
    prefix = f"bench:ratelimit:{secrets.token_hex(4)}:"
    limiter = RedisRateLimiter(redis_url, prefix=prefix)
    try:
        s = app.engine.services
        # Each person stays under the limit, as in real use: the measured path is the allowed command's.
        rates = RateLimits(default=Rate(10_000, 60))
        plain = Engine(chain=s.chain, uow=s.uow, clock=s.clock, policy=s.policy, queue=s.queue)
        limited = Engine(chain=s.chain, uow=s.uow, clock=s.clock, policy=s.policy, queue=s.queue,
                         limiter=limiter, rates=rates)
        actors = [Actor("telegram", str(10_000 + i), f"user{i}") for i in range(users)]
        for actor in actors:  # warm up: connections, the script's SHA, every user known to both engines
            await plain.handle(Help(actor, "w"))
            await limited.handle(Help(actor, "w"))
        with_ms: list[float] = []
        without_ms: list[float] = []
        hit_ms: list[float] = []
        for i in range(n):  # interleaved, so drift (disk, other processes) falls on both sides alike
            actor = actors[i % users]
            for engine, out in ((plain, without_ms), (limited, with_ms)) if i % 2 else ((limited, with_ms), (plain, without_ms)):
                start = time.perf_counter()
                reply = await engine.handle(Help(actor, f"b{i}"))
                out.append((time.perf_counter() - start) * 1000)
                assert reply.kind != "error", reply.plain()
            start = time.perf_counter()
            assert await limiter.hit(f"alone:{actor.ref}", 10_000, 60) is None
            hit_ms.append((time.perf_counter() - start) * 1000)
        added = p(with_ms, 95) - p(without_ms, 95)
        return {
            "n": n, "users": users, "command": "/help through Engine.handle (audit row written to SQLite)",
            "without_limiter_ms": {"p50": round(p(without_ms, 50), 3), "p95": round(p(without_ms, 95), 3)},
            "with_redis_limiter_ms": {"p50": round(p(with_ms, 50), 3), "p95": round(p(with_ms, 95), 3)},
            "added_p95_ms": round(added, 3),
            "redis_hit_alone_ms": {"p50": round(p(hit_ms, 50), 3), "p95": round(p(hit_ms, 95), 3)},
            "requirement_ms": REQUIREMENT_MS, "meets_requirement": added <= REQUIREMENT_MS,
        }
    finally:
        await _delete_own_keys(limiter, prefix)
        await limiter.close()
        await app.close()


async def _delete_own_keys(limiter: RedisRateLimiter, prefix: str) -> None:
    async for key in limiter.redis.scan_iter(match=prefix + "*", count=1000):
        await limiter.redis.delete(key)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("-n", type=int, default=2000, help="commands per side (at least 2000 for the requirement)")
    args.add_argument("--users", type=int, default=200)
    args.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    ns = args.parse_args(argv)
    result = asyncio.run(measure(ns.n, ns.users, ns.redis))
    print(json.dumps(result, indent=2))
    return 0 if result["meets_requirement"] else 1


if __name__ == "__main__":
    sys.exit(main())
