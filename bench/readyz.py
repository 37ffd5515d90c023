"""/readyz latency against real PostgreSQL, Redis and anvil, beside /healthz (which checks nothing) as the baseline.

`python -m bench.readyz [--requests N] [--json]`: starts a fresh anvil, migrates a fresh PostgreSQL database, serves
the health endpoints in this process (bot.health.HealthServer, as every run mode does on HEALTH_PORT) and times
N sequential requests to each endpoint over one keep-alive connection. Goal: /readyz p95 <= 50 ms.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def timed(session, url: str, n: int) -> list[float]:  # noqa: ANN001 - an aiohttp session
    out = []
    for _ in range(n):
        t = time.perf_counter()
        async with session.get(url) as resp:
            await resp.read()
            assert resp.status == 200, (url, resp.status)
        out.append((time.perf_counter() - t) * 1000)
    return out


async def run(requests: int) -> dict:
    import aiohttp

    from adapters.chain.devnet import start_anvil
    from adapters.db.migrate import upgrade
    from adapters.metrics.prometheus import PrometheusMetrics
    from bench.bulk import fresh_postgres
    from bot.health import HealthServer
    from bot.settings import Settings

    anvil = start_anvil()
    server = None
    try:
        db = await fresh_postgres(os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
        if db is None:
            raise SystemExit("the readyz benchmark needs PostgreSQL at 127.0.0.1:5432")
        await upgrade(db)
        settings = Settings(_env_file=None, database_url=db, redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
                            rpc_url=anvil.url, health_listen="127.0.0.1")
        server = await HealthServer(settings, PrometheusMetrics(), port=0).start()
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as session:
            await timed(session, f"{base}/readyz", 20)  # warm: pools opened, first connections made
            healthz = await timed(session, f"{base}/healthz", requests)
            readyz = await timed(session, f"{base}/readyz", requests)
        return {
            "requests": requests,
            "readyz_p50_ms": round(percentile(readyz, 50), 2), "readyz_p95_ms": round(percentile(readyz, 95), 2),
            "healthz_p50_ms": round(percentile(healthz, 50), 2), "healthz_p95_ms": round(percentile(healthz, 95), 2),
            "goal_readyz_p95_ms": 50,
        }
    finally:
        if server is not None:
            await server.stop()
        anvil.stop()


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.readyz")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(run(args.requests))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
        print("baseline: /healthz answers without asking anything (the server's own floor)")
    return 0 if result["readyz_p95_ms"] <= result["goal_readyz_p95_ms"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
