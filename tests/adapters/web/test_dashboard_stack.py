"""The dashboard over the real stack (bot.bootstrap.build: PostgreSQL, the in-process chain): sign-in links used up
in the database, the ledger's filters and keyset pages, the streamed CSV, and a running batch's live progress."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.web import create_app
from bot.bootstrap import App, build
from bot.settings import Settings
from bot.web_mode import dashboard_server
from core.bulk.model import Batch, BatchRow, BatchStatus, RowStatus
from core.commands import Actor
from core.model import Intent, IntentStatus
from tests.adapters.web.helpers import delivered_link, follow

pytestmark = [pytest.mark.postgres]

OP = Actor("console", "fin", "Finance")
OTHER = Actor("telegram", "77", "Otto")
MEMBER = Actor("telegram", "88", "Mia")
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def address() -> str:
    from core.addresses import to_checksum

    return to_checksum("0x" + secrets.token_hex(20))


@pytest.fixture
async def app(new_postgres_database, tmp_path) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=new_postgres_database(), operators=OP.ref,
                        web_base_url="http://dash.test", web_port=0, bulk_chunk_size=2)
    built = await build(settings)
    try:
        yield built
    finally:
        await built.close()


@contextlib.asynccontextmanager
async def signed_in(app: App, actor: Actor, base_url: str = "http://dash.test") -> AsyncIterator[httpx.AsyncClient]:
    web = app.engine.services.web
    assert web is not None
    transport = httpx.ASGITransport(app=create_app(app.engine, web)) if base_url == "http://dash.test" else None
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        await app.engine.handle_text("/dashboard", actor=actor, key=f"dash-{secrets.token_hex(4)}")
        link = await delivered_link(app.engine, actor)
        response = await follow(client, link.replace("http://dash.test", base_url))
        assert response.status_code == 303, response.text
        yield client


async def seed_ledger(app: App) -> list[str]:
    """60 payments (two people, two tokens, one failed in five) and a 45-row batch, some sharing one instant."""
    ids = []
    async with app.uow() as uow:
        for n in range(60):
            at = T0 + timedelta(hours=n // 2)  # pairs share an instant: the cursor's tie-break on id matters
            status = IntentStatus.FAILED if n % 5 == 0 else IntentStatus.CONFIRMED
            who = OP if n % 3 else OTHER
            token = "CRO" if n % 2 else "USDC"
            pid = f"pay-{n:04d}"
            await uow.intents.add(Intent(pid, f"seed-{n}", who.ref, address(), token, (n + 1) * 10**6, "0x" + secrets.token_hex(32),
                                         at, at, status=status, tx_hash="0x" + secrets.token_hex(32)))
            ids.append(pid)
        started = T0 + timedelta(hours=10)  # the same instant as two payments
        rows = [BatchRow("blk-seed", seq, seq + 2, address(), "USDC", 10**6, "0x" + secrets.token_hex(32),
                         status=RowStatus.PAID if seq % 9 else RowStatus.FAILED, tx_hash="0x" + secrets.token_hex(32))
                for seq in range(45)]
        await uow.batches.add(Batch("blk-seed", "seed-b", OP.ref, "seed.csv", "h", "csv", 45, {"USDC": 45 * 10**6},
                                    started, started, status=BatchStatus.DONE, started_at=started, paid=40, failed=5),
                              rows)
        await uow.commit()
    return ids + [f"blk-seed:{r.line}" for r in rows]


def ids_on(html: str) -> list[str]:
    import re

    return re.findall(r"<td><code>((?:pay-\d+)|(?:blk-seed:\d+))</code></td>", html)


async def pages(client: httpx.AsyncClient, query: str) -> list[str]:
    import re

    seen, url = [], f"/ledger?{query}"
    while True:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        seen += ids_on(page.text)
        more = re.search(r'id="next" href="([^"]+)"', page.text)
        if more is None:
            return seen
        url = more.group(1).replace("&amp;", "&")


async def test_a_link_is_used_up_in_the_database(app):
    await app.engine.handle_text("/dashboard", actor=OP, key="dash-once")
    link = await delivered_link(app.engine, OP)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(app.engine, app.engine.services.web)),
                                 base_url="http://dash.test")

    async with client() as first:
        assert (await follow(first, link)).status_code == 303
        assert (await first.get("/treasury")).status_code == 200
    async with client() as replay:
        again = await follow(replay, link)
        assert again.status_code == 410 and "already used" in again.text


async def test_the_treasury_shows_balances_gas_allowance_and_a_spending_chart(app):
    await seed_ledger(app)
    async with signed_in(app, OP) as client:
        page = await client.get("/treasury")
    assert page.status_code == 200
    for token in app.chain.tokens:
        assert f"<td>{token.symbol}</td>" in page.text
    assert "gas:" in page.text and app.chain.executor in page.text
    # The seeded spending is older than 30 days from now: the page says so rather than drawing an empty chart.
    assert "Nothing was paid in the last 30 days." in page.text or "<svg" in page.text


async def test_keyset_pages_walk_the_whole_ledger_once_newest_first(app):
    everything = await seed_ledger(app)
    async with signed_in(app, OP) as client:
        seen = await pages(client, "")
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
    assert seen[0] == "pay-0059"  # the newest
    async with signed_in(app, OP) as client:
        failed = await pages(client, "status=failed")
        usdc_of_other = await pages(client, f"token=USDC&person={OTHER.ref}")
        day = await pages(client, "from=2026-10-01&to=2026-10-01")
    assert sorted(failed) == sorted([f"pay-{n:04d}" for n in range(0, 60, 5)] + [f"blk-seed:{s + 2}" for s in range(0, 45, 9)])
    assert sorted(usdc_of_other) == sorted(f"pay-{n:04d}" for n in range(60) if n % 3 == 0 and n % 2 == 0)
    assert len(day) == 24 + 45  # 12:00 to 23:30 on the 1st: 24 payments, and the batch started at 22:00


async def test_bad_filters_get_a_message_naming_the_field_never_a_500(app):
    await seed_ledger(app)
    async with signed_in(app, OP) as client:
        for query, says in [("from=yesterday", "from:"), ("to=2026-13-40", "to:"), ("token=DOGE", "token:"),
                            ("status=lost", "status:"), ("from=2000-01-01&to=2026-01-01", "too wide"),
                            ("from=2026-10-05&to=2026-10-01", "before the start"), ("person=bob", "person:"),
                            ("after=%%%", "after:")]:
            response = await client.get(f"/ledger?{query}")
            assert response.status_code == 400 and says in response.text, (query, response.text[-400:])
        import base64

        past = base64.urlsafe_b64encode(b"2000-01-01T00:00:00+00:00||0|pay-0000").decode().rstrip("=")
        end = await client.get(f"/ledger?after={past}")
        assert end.status_code == 200 and "past the end" in end.text


async def test_a_member_sees_only_their_own_outflows(app):
    await seed_ledger(app)
    async with signed_in(app, MEMBER) as client:
        assert await pages(client, f"person={OP.ref}") == []
        assert (await client.get("/treasury")).status_code == 403


async def test_the_csv_export_streams_the_filtered_set(app):
    await seed_ledger(app)
    async with signed_in(app, OP) as client:
        async with client.stream("GET", "/ledger.csv?token=USDC&status=paid") as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            assert "attachment" in response.headers["content-disposition"]
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["time (UTC)", "kind", "id"]
    expected = [f"pay-{n:04d}" for n in range(60) if n % 2 == 0 and n % 5] + [f"blk-seed:{s + 2}" for s in range(45) if s % 9]
    assert sorted(r[2] for r in rows[1:]) == sorted(expected)
    assert all(r[3] == "USDC" and r[7] == "paid" for r in rows[1:])


async def test_a_running_batch_streams_its_progress_to_100_percent(app):
    """Served by uvicorn for real: the page's EventSource gets `progress` events while the batch pays, then
    `finished`, without asking again."""
    lines = ["recipient,amount,token"] + [f"{address()},0.01,CRO" for _ in range(6)]
    preview = await app.engine.bulk_upload(OP, "up-sse", "sse.csv", ("\n".join(lines) + "\n").encode())
    batch_id = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
    server = dashboard_server(app, app.settings, signals=False)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        async with signed_in(app, OP, base_url=base) as client:
            page = await client.get(f"/batches/{batch_id}")
            assert f'data-events="/batches/{batch_id}/events"' in page.text
            events: list[tuple[str, dict[str, object]]] = []
            live: list[str] = []  # each `live` event's HTML: the report and the rows, as the page shows them
            async with client.stream("GET", f"/batches/{batch_id}/events", timeout=60) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                name = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                        if name == "live":
                            live.append("")
                    elif line.startswith("data: ") and name == "live":
                        live[-1] += line[6:] + "\n"
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[6:])))
                        if name == "progress" and len(events) == 1:  # subscribed: now press Execute
                            go = await app.engine.handle_text(f"/bulk execute {batch_id}", actor=OP, key="go-sse")
                            assert "Executing" in go.plain(), go.plain()
                        if name == "finished":
                            break
    finally:
        await server.stop()
    first, last = events[0][1], events[-1][1]
    assert first["state"] == "preview" and first["percent"] == 0
    assert events[-1][0] == "finished" and last["percent"] == 100 and last["paid"] == 6
    settled = [int(str(e["settled"])) for _, e in events]
    assert settled == sorted(settled)  # progress only ever moves forward
    # The report and the rows moved with the bar: first the preview with every row pending, last done and paid.
    def report(html: str) -> str:
        return html.split('id="batch-report">', 1)[1].split("</p>", 1)[0]

    assert "preview" in report(live[0]) and live[0].count('<td class="row-status">pending</td>') == 6
    assert "done" in report(live[-1]) and "preview" not in report(live[-1])
    assert live[-1].count('<td class="row-status">paid</td>') == 6 and "pending" not in live[-1]
