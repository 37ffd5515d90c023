"""/ledger and /history queries on PostgreSQL with a team's worth of outflows: milliseconds per query, p50/p95.

Fills a fresh database with --batches executed batches of --rows rows each (default 10 x 10,000) and --payments
payments (default 10,000), then times, in one run:
- `ledger.outflows(20)` (what /ledger shows) and `ledger.outflows(20, "USDC")`;
- `ledger.received(wallet, 10)` (the bulk half of /history);
- the baseline: `ledger.outflows(None)`, reading every outflow (what the export does, and what /ledger would cost
  if it sorted everything to show twenty).
PostgreSQL from BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres, the maintenance db).
Run: .venv/bin/python bench/ledger_query.py [--rows 10000] [--batches 10] [--payments 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg2  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from adapters.db import create_engine_for, make_uow_factory, upgrade  # noqa: E402
from adapters.db.bulk_tables import BulkBatchRow, BulkRowRow  # noqa: E402
from adapters.db.tables import IntentRow  # noqa: E402

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def addr(i: int) -> str:
    return "0x" + f"{i:040x}"


def admin(sql: str) -> None:
    url = make_url(SERVER)
    connection = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                                  dbname=url.database or "postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


async def fill(url: str, rows: int, batches: int, payments: int) -> None:
    engine = create_engine_for(url)
    try:
        async with engine.begin() as c:
            for b in range(batches):
                at = T0 + timedelta(hours=b)
                bid = f"bulk-{b:08d}"
                await c.execute(insert(BulkBatchRow.__table__).values(
                    id=bid, key=f"k-{bid}", actor_ref="telegram:1", filename="f.csv", content_hash=f"h{b}", format="csv",
                    rows=rows, totals="{}", status="done", created_at=at, updated_at=at, started_at=at, paid=rows))
                for start in range(0, rows, 5000):
                    await c.execute(insert(BulkRowRow.__table__), [
                        {"batch_id": bid, "seq": i, "line": i + 2, "recipient": addr(1 + i % 5000),
                         "token": "USDC" if i % 3 == 0 else "CRO", "amount": 10**6 + i, "intent_hash": f"0x{b:032x}{i:032x}",
                         "memo": None, "status": "paid", "chunk": i // 160, "tx_hash": "0x" + f"{b:032x}{i // 160:032x}"}
                        for i in range(start, min(rows, start + 5000))])
            for start in range(0, payments, 5000):
                await c.execute(insert(IntentRow.__table__), [
                    {"id": f"pay-{n:08d}", "key": f"pk-{n}", "actor_ref": "telegram:1", "recipient": addr(10**6 + n),
                     "token": "CRO", "amount": 10**18, "intent_hash": "0x" + f"{n:064x}", "status": "confirmed",
                     "needs_confirmation": False, "created_at": T0 + timedelta(minutes=7 * n),
                     "updated_at": T0 + timedelta(minutes=7 * n), "tx_hash": "0x" + f"a{n:063x}"}
                    for n in range(start, min(payments, start + 5000))])
        async with engine.begin() as c:
            await c.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


async def timed(uow, call, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        async with uow() as u:
            t0 = time.perf_counter()
            await call(u)
            times.append(time.perf_counter() - t0)
    times.sort()
    return {"p50_ms": round(statistics.median(times) * 1000, 2), "p95_ms": round(times[int(0.95 * (n - 1))] * 1000, 2)}


async def run(rows: int, batches: int, payments: int) -> dict[str, object]:
    name = f"snowrail_bench_ledger_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(url)
        t0 = time.perf_counter()
        await fill(url, rows, batches, payments)
        fill_s = time.perf_counter() - t0
        engine = create_engine_for(url)
        try:
            uow = make_uow_factory(engine)
            figures: dict[str, object] = {
                "rows": rows * batches, "payments": payments, "fill_s": round(fill_s, 1),
                "ledger_20_ms": await timed(uow, lambda u: u.ledger.outflows(20), 30),
                "ledger_20_usdc_ms": await timed(uow, lambda u: u.ledger.outflows(20, "USDC"), 30),
                "history_received_10_ms": await timed(uow, lambda u: u.ledger.received(addr(42), 10), 30),
                "baseline_all_outflows_ms": await timed(uow, lambda u: u.ledger.outflows(None), 3),
            }
        finally:
            await engine.dispose()
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--payments", type=int, default=10_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    figures = asyncio.run(run(args.rows, args.batches, args.payments))
    if args.json:
        print(json.dumps(figures))
        return
    for k, v in figures.items():
        print(f"{k:>26}: {v}")


if __name__ == "__main__":
    main()
