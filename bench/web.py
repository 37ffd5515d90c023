"""The web dashboard's speed on PostgreSQL: the ledger page at a million outflows, the CSV export, live batch progress.

One run, three goals from issue 16, each printed beside a baseline measured in the same run:
- ledger: GET /ledger (first page, filtered pages, and 20 pages deep by its "Older" link) with 1,000,000 outflows
  (--outflows), p50/p95 over HTTP; goal p95 <= 100 ms. Baselines: GET /signed-out (the dashboard's floor: HTTP and
  a template, no query) and one deep page read the way keyset pagination avoids (OFFSET, straight in SQL).
- export: GET /ledger.csv of a 39-day range (100,000 bulk rows and the payments of those days), seconds and the
  process's peak RSS growth while streaming; goal <= 3 s with flat memory. Baseline: the same for a 4-day range
  (about a tenth), and a 19-day one: flat memory means the peak stops growing with the number of rows.
- progress: a running batch's counters committed as a recorded chunk commits them, and the moment its `progress`
  event reaches an SSE client of /batches/<id>/events, and the moment the batch's page open in a headless Chromium
  shows the new numbers (tests/fixtures/browser.py; skipped, and said so, without Chromium); goal <= 500 ms to the
  page. Baselines: the commit alone, and a GET of the batch's page (what a reload would cost).
The dashboard is built by bot.bootstrap.build over the database and served by uvicorn in this process
(bot.web_mode.dashboard_server); the client signs in through a real one-time link. The chain is the embedded one:
no page measured here asks it anything but token names.
PostgreSQL from BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres, the maintenance db).
Run: .venv/bin/python bench/web.py [--outflows 1000000] [--payments 100000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from adapters.db import upgrade  # noqa: E402
from bench.web_data import BATCH_ROWS, OPERATOR_REF, connect, fill, scratch_database  # noqa: E402
from bot.bootstrap import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web_mode import dashboard_server  # noqa: E402
from core.commands import Actor  # noqa: E402
from core.signin import link_for  # noqa: E402

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
VIEWER = Actor("telegram", OPERATOR_REF.split(":")[1], "Bench")
LIVE_BATCH = "bulk-live-bench"  # watched by an SSE client
SEEN_BATCH = "bulk-live-browser"  # watched by Chromium's page
GOALS = {"ledger_p95_ms": 100, "export_s": 3, "progress_p95_ms": 500}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1), "n": len(ms)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak() -> None:
    """Start the peak-RSS mark (VmHWM) afresh from the current RSS (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


async def timed_get(client: httpx.AsyncClient, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        response = await client.get(path)
        out.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return out


async def sign_in(client: httpx.AsyncClient, app: Any) -> None:
    web = app.engine.services.web
    _, link = link_for(web, VIEWER, app.engine.services.clock.now())
    response = await client.post("/login", data={"token": link.split("token=", 1)[1]})
    assert response.status_code == 303 and "snowrail_session" in client.cookies, response.text[:300]


async def ledger(client: httpx.AsyncClient, n: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "first_page": summary(await timed_get(client, "/ledger", n)),
        "usdc_paid": summary(await timed_get(client, "/ledger?token=USDC&status=paid", n)),
        "one_person": summary(await timed_get(client, "/ledger?person=telegram:1007", n)),
        "one_month": summary(await timed_get(client, "/ledger?from=2026-06-01&to=2026-06-30", n)),
        "failed_only": summary(await timed_get(client, "/ledger?status=failed", n)),
    }
    deep, path = [], "/ledger"
    for _ in range(20):  # follow "Older" as a person paging back would
        t = time.perf_counter()
        response = await client.get(path)
        deep.append((time.perf_counter() - t) * 1000)
        marker = 'id="next" href="'
        assert marker in response.text, "the ledger ran out of pages"
        path = response.text.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
    figures["twenty_pages_deep"] = summary(deep)
    figures["baseline_signed_out_page"] = summary(await timed_get(client, "/signed-out", n))
    return figures


def offset_baseline(url: str, offset: int, n: int = 5) -> dict[str, float]:
    """One ledger page read with OFFSET (newest first across both sources): what keyset pagination avoids."""
    sql = """SELECT at, id FROM (
               SELECT created_at AS at, id FROM intents WHERE status IN ('submitted', 'confirmed', 'failed')
               UNION ALL
               SELECT b.started_at, r.batch_id || ':' || r.line
               FROM bulk_rows r JOIN bulk_batches b ON b.id = r.batch_id WHERE b.started_at IS NOT NULL) AS outflows
             ORDER BY at DESC, id DESC OFFSET %s LIMIT 50"""
    connection = connect(url)
    try:
        times = []
        with connection.cursor() as cursor:
            for _ in range(n):
                t = time.perf_counter()
                cursor.execute(sql, (offset,))
                cursor.fetchall()
                times.append((time.perf_counter() - t) * 1000)
    finally:
        connection.close()
    return {**summary(times), "offset": offset}


async def export(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    reset_peak()
    before = _status_kb("VmRSS")
    t = time.perf_counter()
    lines = 0
    async with client.stream("GET", f"/ledger.csv?{query}") as response:
        assert response.status_code == 200, response.status_code
        async for chunk in response.aiter_bytes():
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - t
    return {"rows": lines - 1, "seconds": round(seconds, 2), "rss_before_mb": round(before / 1024, 1),
            "peak_growth_mb": round((_status_kb("VmHWM") - before) / 1024, 1)}


def add_live_batch(url: str, batch_id: str, rows: int) -> None:
    connection = connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO bulk_batches (id, key, actor_ref, filename, content_hash, format, rows, totals, status,
                     duplicates, round, paid, failed, cancelled, fees, gas_used, progress_seq, created_at, updated_at,
                     started_at)
                   VALUES (%s, %s, %s, 'live.csv', 'live', 'csv', %s, '{}', 'running', 0, 0, 0, 0, 0, 0, 0, 0,
                     now(), now(), now())""", (batch_id, f"bench-{batch_id}", OPERATOR_REF, rows))
    finally:
        connection.close()


async def record_chunk(app: Any, batch_id: str, rows: int) -> float:
    """What core.bulk.settle._record does last for a mined chunk: the batch's counters, committed. Returns the
    moment of the commit (time.time(), comparable with the browser's Date.now())."""
    async with app.uow() as uow:
        batch = await uow.batches.get(batch_id, for_update=True)
        batch.paid += rows
        await uow.batches.save(batch)
        await uow.commit()
    return time.time()


async def progress(client: httpx.AsyncClient, app: Any, chunks: int, chunk_rows: int) -> dict[str, Any]:
    """Commit `chunks` chunk records one by one and time each until the SSE client has its `progress` event."""
    arrived: dict[int, float] = {}
    event = asyncio.Event()

    async def listen() -> None:
        async with client.stream("GET", f"/batches/{LIVE_BATCH}/events", timeout=None) as response:
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "progress":
                    arrived.setdefault(json.loads(line[5:])["paid"], time.perf_counter())
                    event.set()

    listener = asyncio.create_task(listen())
    while 0 not in arrived:
        await event.wait()
        event.clear()
    latency, commits = [], []
    for i in range(1, chunks + 1):
        await asyncio.sleep(0.05 + (i * 0.037) % 0.25)  # land at every phase of the server's re-read interval
        t = time.perf_counter()
        await record_chunk(app, LIVE_BATCH, chunk_rows)
        committed = time.perf_counter()
        commits.append((committed - t) * 1000)
        while i * chunk_rows not in arrived:
            await asyncio.wait_for(event.wait(), 10)
            event.clear()
        latency.append((arrived[i * chunk_rows] - committed) * 1000)
    listener.cancel()
    page = await timed_get(client, f"/batches/{LIVE_BATCH}", 20)
    return {"commit_to_sse_event": summary(latency), "baseline_commit": summary(commits),
            "baseline_batch_page_get": summary(page)}


_WATCH = """const box = document.getElementById("progress"); window.shown = {};
new MutationObserver(() => { const paid = document.getElementById("progress-paid").textContent;
  if (!(paid in window.shown)) window.shown[paid] = Date.now(); })
  .observe(box, {subtree: true, childList: true, characterData: true});"""


async def progress_in_chromium(client: httpx.AsyncClient, app: Any, base: str, chunks: int, chunk_rows: int
                               ) -> dict[str, Any]:
    """The same, to the batch page in a headless Chromium: from the commit to the moment the page's numbers change
    (a MutationObserver stamps Date.now(); the commit is stamped with time.time(), the same clock)."""
    from tests.fixtures.browser import missing, start_chromium

    if problem := missing():
        return {"skipped": problem}
    driver = await asyncio.to_thread(start_chromium)  # Selenium blocks: its calls leave the server's loop free

    def script(js: str) -> Any:
        return asyncio.to_thread(driver.execute_script, js)

    try:
        await asyncio.to_thread(driver.get, base + "/signed-out")
        await asyncio.to_thread(driver.add_cookie, {"name": "snowrail_session", "path": "/",
                                                    "value": client.cookies["snowrail_session"]})
        await asyncio.to_thread(driver.get, f"{base}/batches/{SEEN_BATCH}")
        while await script("return document.getElementById('progress').dataset.listening") != "1":
            await asyncio.sleep(0.02)
        await script(_WATCH)
        latency = []
        for i in range(1, chunks + 1):
            await asyncio.sleep(0.05 + (i * 0.037) % 0.25)
            committed = await record_chunk(app, SEEN_BATCH, chunk_rows)
            while (shown := await script(f"return window.shown['{i * chunk_rows}']")) is None:
                await asyncio.sleep(0.01)
            latency.append(shown - committed * 1000)
    finally:
        await asyncio.to_thread(driver.quit)
    return {"commit_to_page_in_chromium": summary(latency)}


async def measure(url: str, n: int) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(_env_file=None, data_dir=Path(data_dir), database_url=url, web_port=port,
                            operators=OPERATOR_REF, web_secret=secrets.token_hex(32))
        app = await build(settings)
        server = dashboard_server(app, settings, signals=False)
        try:
            await server.start()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                await sign_in(client, app)
                await client.get("/ledger")  # first use: the pool's connections, the templates' compilation
                figures: dict[str, Any] = {"ledger": await ledger(client, n)}
                await export(client, "from=2026-01-01&to=2026-01-01")  # warm-up: one-time buffers are not growth
                figures["export"] = {  # memory is flat when the peak stops growing with the rows exported
                    "baseline_four_days": await export(client, "from=2026-01-01&to=2026-01-04"),
                    "nineteen_days": await export(client, "from=2026-01-01&to=2026-01-19"),
                    "thirty_nine_days": await export(client, "from=2026-01-01&to=2026-02-08"),
                }
                figures["progress"] = {**await progress(client, app, chunks=30, chunk_rows=100),
                                       **await progress_in_chromium(client, app, f"http://127.0.0.1:{port}",
                                                                    chunks=30, chunk_rows=100)}
        finally:
            await server.stop()
            await app.close()
    return figures


def run(outflows: int, payments: int, n: int) -> dict[str, Any]:
    with scratch_database(SERVER) as url:
        asyncio.run(upgrade(url))
        t = time.perf_counter()
        made = fill(url, outflows, payments)
        for batch_id in (LIVE_BATCH, SEEN_BATCH):
            add_live_batch(url, batch_id, 30 * 100)
        figures: dict[str, Any] = {"outflows": outflows, "payments": payments, "batch_rows": BATCH_ROWS,
                                   "fill_s": round(time.perf_counter() - t, 1), **made}
        figures.update(asyncio.run(measure(url, n)))
        figures["ledger"]["baseline_offset_sql"] = offset_baseline(url, outflows // 2)
    worst = max(v["p95_ms"] for k, v in figures["ledger"].items() if not k.startswith("baseline"))
    figures["goals"] = {
        "ledger_p95_ms": {"worst": worst, "goal": GOALS["ledger_p95_ms"], "met": worst <= GOALS["ledger_p95_ms"]},
        "export_s": {"seconds": figures["export"]["thirty_nine_days"]["seconds"], "goal": GOALS["export_s"],
                     "met": figures["export"]["thirty_nine_days"]["seconds"] <= GOALS["export_s"]},
    }
    seen = figures["progress"].get("commit_to_page_in_chromium") or figures["progress"]["commit_to_sse_event"]
    figures["goals"]["progress_p95_ms"] = {"p95": seen["p95_ms"], "goal": GOALS["progress_p95_ms"],
                                           "met": seen["p95_ms"] <= GOALS["progress_p95_ms"]}
    return figures


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--outflows", type=int, default=1_000_000)
    p.add_argument("--payments", type=int, default=100_000)
    p.add_argument("-n", type=int, default=40, help="requests per ledger query")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    figures = run(args.outflows, args.payments, args.n)
    if args.json:
        print(json.dumps(figures))
        return
    for section, values in figures.items():
        if isinstance(values, dict):
            print(f"{section}:")
            for k, v in values.items():
                print(f"  {k:>26}: {v}")
        else:
            print(f"{section:>28}: {values}")


if __name__ == "__main__":
    main()
