"""Schedules benchmark: 10,000 one-off schedules due in the same minute on a fresh anvil, paid by the due-time loop.

Measured: from the pass of the due-time loop that finds them due to the last row paid, with RQ workers settling the
batch; every payout verified on chain (exactly the amount scheduled), and one occurrence per schedule. The baseline,
in the same run: the /pay path (one Settlement.execute per recipient, each waited for), extrapolated to the count.
`.venv/bin/python -m bench.schedules [--count N] [--json]`; needs PostgreSQL and Redis (`bash scripts/services`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.bulk import OPERATOR, baseline, env_for, fresh_postgres, redis_ok, start_stack, start_workers, stop, \
    verify_on_chain, wait_done
from core.addresses import to_checksum


async def run(count: int, *, workers: int = 2, baseline_rows: int = 50, log=print) -> dict:
    from bot.bootstrap import build
    from bot.settings import load_settings
    from core.schedules.model import OccurrenceStatus, Schedule
    from core.services import new_id

    rnd = random.Random(14)
    expected: dict[str, int] = {}
    for _ in range(count):
        address = to_checksum("0x" + rnd.getrandbits(160).to_bytes(20, "big").hex())
        expected[address] = rnd.randint(1, 10**6) * 10**12  # 0.000001 .. 1 CRO
    stack = await start_stack(treasury_cro=count + baseline_rows + 1000)
    procs = []
    app = None
    try:
        database_url = os.environ.get("BENCH_DATABASE_URL") or await fresh_postgres(
            os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
        redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
        if database_url is None or not redis_ok(redis_url):
            raise SystemExit("the schedules benchmark needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)")
        env = env_for(stack, database_url, redis_url)
        settings = load_settings(**{k.lower(): v for k, v in env.items()
                                    if k in ("RPC_URL", "PRIVATE_KEY", "SETTLEMENT_CONTRACT_ADDRESS", "CHAIN_ID",
                                             "DATABASE_URL", "REDIS_URL", "OPERATORS", "TOKENS")},
                                 rate_limit_pay="off", schedule_remind_before="0m")
        app = await build(settings, watch=False)
        procs = start_workers(workers, env, Path(os.environ.get("BENCH_LOG_DIR", "/tmp")))
        base = await baseline(app, baseline_rows)
        log(f"baseline: {base:.1f} payouts/s over {baseline_rows} /pay payments (one tx each): "
            f"~{count / base:.0f} s for {count:,}")

        minute = datetime.now(UTC).replace(second=0, microsecond=0)  # every one due at the same minute
        t = time.perf_counter()
        async with app.uow() as uow:
            for i, (address, units) in enumerate(expected.items()):
                await uow.schedules.add(Schedule(
                    id=new_id("sch"), key=f"bench-sch-{i}", owner_ref=OPERATOR.ref, recipient=address, recipient_ref=None,
                    recipient_text=address, token="CRO", amount=units, rule=None, dtstart=minute, tz="UTC",
                    phrase=f"at {minute:%Y-%m-%d %H:%M}", next_run_at=minute, created_at=minute, updated_at=minute))
            await uow.commit()
        log(f"stored {count:,} schedules in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        moved = await app.engine.tick()  # one pass of the due-time loop, as every bot process runs it
        tick_seconds = time.perf_counter() - t
        async with app.uow() as uow:
            paying = await uow.schedules.occurrences_with(OccurrenceStatus.PAYING, count + 1)
        batch_ids = sorted({o.batch_id for o in paying if o.batch_id})
        batches = [await wait_done(app, b, timeout=170) for b in batch_ids]
        seconds = time.perf_counter() - t
        again = await app.engine.tick()  # a second pass: nothing is due twice
        verified = await verify_on_chain(stack.url, expected)
        paid = sum(b.paid for b in batches)
        log(f"due-time pass: moved {moved:,} (claimed + paid) in {tick_seconds:.2f} s; {len(batch_ids)} batch(es); "
            f"all paid in {seconds:.1f} s; {paid:,} paid; second pass moved {again}; verified on chain: {verified}")
        if paid != count or len(paying) != count or len({o.key for o in paying}) != count or not verified or again:
            raise RuntimeError(f"not every occurrence was paid exactly once: {paid} paid of {count}")
        return {"schedules": count, "tick_seconds": round(tick_seconds, 2), "seconds_to_all_paid": round(seconds, 1),
                "batches": len(batch_ids), "chunks_per_batch": [-(-b.rows // app.engine.services.bulk.chunk_size)
                                                                for b in batches],
                "baseline_payouts_per_s": round(base, 1), "baseline_seconds_for_count": round(count / base),
                "verified_on_chain": verified, "within_60_s": seconds <= 60}
    finally:
        stop(procs)
        if app is not None:
            await app.close()
        stack.anvil.stop()


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.schedules")
    p.add_argument("--count", type=int, default=10_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(run(args.count, workers=args.workers))
    print(json.dumps(result, indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
