"""A PostgreSQL database for bench/web.py: a million treasury outflows made inside the server with generate_series.

The ledger reads payments (intents) and the rows of executed bulk batches. Rows are made by INSERT ... SELECT
generate_series rather than sent from Python: a million rows in seconds, with the migrations' own indexes.
Spread over a year, fifty requesters, two tokens and three statuses, so every filter has something to select.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg2
from sqlalchemy.engine import make_url

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH_ROWS = 10_000
PEOPLE = 50  # requesters telegram:1000 .. telegram:1049
OPERATOR_REF = "telegram:1000"

_BATCHES = """
INSERT INTO bulk_batches (id, key, actor_ref, filename, content_hash, format, rows, totals, status, duplicates,
  round, paid, failed, cancelled, fees, gas_used, progress_seq, created_at, updated_at, started_at, finished_at)
SELECT 'bulk-' || lpad(b::text, 8, '0'), 'bench-bulk-' || b, 'telegram:' || (1000 + b %% %(people)s),
  'payroll-' || b || '.csv', md5(b::text), 'csv', %(rows)s, '{}', 'done', 0, 0, %(rows)s, 0, 0, 0, 0, 1,
  %(t0)s + b * interval '97 hours', %(t0)s + b * interval '97 hours', %(t0)s + b * interval '97 hours',
  %(t0)s + b * interval '97 hours' + interval '5 minutes'
FROM generate_series(0, %(batches)s - 1) AS b
"""

_ROWS = """
INSERT INTO bulk_rows (batch_id, seq, line, recipient, token, amount, intent_hash, row_id, status, chunk, tx_hash)
SELECT 'bulk-' || lpad((g / %(rows)s)::text, 8, '0'), g %% %(rows)s, g %% %(rows)s + 2,
  '0x' || lpad(to_hex(1 + g %% 5000), 40, '0'), CASE WHEN g %% 3 = 0 THEN 'USDC' ELSE 'CRO' END,
  1000000 + g, '0x' || lpad(to_hex(g), 64, '0'), g, CASE WHEN g %% 97 = 0 THEN 'failed' ELSE 'paid' END,
  (g %% %(rows)s) / 160, '0xb' || lpad(to_hex(g / 160), 63, '0')
FROM generate_series(0, %(count)s - 1) AS g
"""

_PAYMENTS = """
INSERT INTO intents (id, key, actor_ref, recipient, token, amount, intent_hash, status, needs_confirmation,
  created_at, updated_at, submitted_at, tx_hash)
SELECT 'pay-' || lpad(n::text, 8, '0'), 'bench-pay-' || n, 'telegram:' || (1000 + n %% %(people)s),
  '0x' || lpad(to_hex(1000000 + n), 40, '0'), CASE WHEN n %% 4 = 0 THEN 'USDC' ELSE 'CRO' END,
  (n + 1)::numeric * 1000000000000000, '0x' || lpad(to_hex(n), 64, '0'),
  CASE WHEN n %% 50 = 0 THEN 'failed' WHEN n %% 50 = 1 THEN 'submitted' ELSE 'confirmed' END, false,
  %(t0)s + n * interval '5 minutes', %(t0)s + n * interval '5 minutes', %(t0)s + n * interval '5 minutes',
  '0xc' || lpad(to_hex(n), 63, '0')
FROM generate_series(0, %(payments)s - 1) AS n
"""


def admin(server: str, sql: str) -> None:
    """Run one statement on the server's maintenance database (CREATE/DROP DATABASE refuse a transaction)."""
    connection = connect(server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def connect(url_text: str):  # noqa: ANN202 - a psycopg2 connection
    url = make_url(url_text)
    return psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                            password=url.password, dbname=url.database or "postgres")


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new empty database on `server` for one run, dropped afterwards whatever happens."""
    name = f"snowrail_bench_web_{uuid.uuid4().hex[:8]}"
    admin(server, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill(url: str, outflows: int, payments: int) -> dict[str, float]:
    """`outflows` in all: `payments` payments, the rest bulk rows in batches of BATCH_ROWS. Returns timings."""
    bulk = outflows - payments
    batches = -(-bulk // BATCH_ROWS)
    connection = connect(url)
    took: dict[str, float] = {}
    try:
        with connection, connection.cursor() as cursor:
            params = {"people": PEOPLE, "rows": BATCH_ROWS, "t0": T0, "batches": batches, "count": bulk,
                      "payments": payments}
            for name, sql in (("batches", _BATCHES), ("bulk_rows", _ROWS), ("payments", _PAYMENTS)):
                t = time.perf_counter()
                cursor.execute(sql, params)
                took[f"fill_{name}_s"] = round(time.perf_counter() - t, 1)
        connection.autocommit = True
        with connection.cursor() as cursor:
            t = time.perf_counter()
            cursor.execute("VACUUM ANALYZE")  # fresh statistics and visibility map: the planner sees a steady state
            took["analyze_s"] = round(time.perf_counter() - t, 1)
    finally:
        connection.close()
    return took
