"""The ledger read in pieces (keyset pages, CSV chunks, batches listed a few at a time) gives exactly the one sorted
list of outflows, newest first, on PostgreSQL: payments, mixer deposits and the rows of several batches, with ties."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.db import web_repositories
from adapters.web import pages as ledger_pages
from adapters.web import streams
from bot.bootstrap import App, build
from bot.settings import Settings
from core.bulk.model import Batch, BatchRow, BatchStatus, RowStatus
from core.commands import Actor
from core.dashboard import Cursor, LedgerFilter, LedgerPart
from core.ledger import Outflow, OutflowKind, OutflowStatus
from core.model import Intent, IntentStatus
from tests.adapters.web.test_dashboard_stack import signed_in

pytestmark = [pytest.mark.postgres]

OP = Actor("console", "fin", "Finance")
OTHER = "telegram:77"
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
PIECE = 7  # rows per page, per CSV chunk: small, so every boundary (inside a batch, between batches, ties) is crossed
_INTENT = {IntentStatus.SUBMITTED: OutflowStatus.SENDING, IntentStatus.CONFIRMED: OutflowStatus.PAID,
           IntentStatus.FAILED: OutflowStatus.FAILED}
_ROW = {RowStatus.PENDING: OutflowStatus.SENDING, RowStatus.PAID: OutflowStatus.PAID, RowStatus.FAILED: OutflowStatus.FAILED}


def hex_of(n: int, width: int) -> str:
    return "0x" + format(n, f"0{width}x")


@pytest.fixture
async def app(new_postgres_database, tmp_path) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=new_postgres_database(), operators=OP.ref,
                        web_base_url="http://dash.test", web_port=0)
    built = await build(settings)
    try:
        yield built
    finally:
        await built.close()


async def mixed_ledger(app: App) -> list[Outflow]:
    """Payments, mixer deposits, and six batches (two started at one instant, one at a payment's instant, one not
    executed), rows of three statuses and lines with gaps; returns the outflows the ledger must list, unsorted."""
    expected: list[Outflow] = []
    async with app.uow() as uow:
        for n in range(40):
            at = T0 + timedelta(hours=n // 2)  # pairs share an instant
            status = [IntentStatus.CONFIRMED, IntentStatus.FAILED, IntentStatus.SUBMITTED, IntentStatus.PENDING][n % 4]
            mixer = hex_of(n, 64) if n % 5 == 0 else None
            who, token = (OP.ref if n % 3 else OTHER), ("CRO" if n % 2 else "USDC")
            intent = Intent(f"pay-{n:03d}", f"seed-{n}", who, hex_of(n + 1, 40), token, (n + 1) * 10**6, hex_of(n, 64),
                            at, at, status=status, tx_hash=hex_of(n, 64), memo=f"memo {n}", mixer_commitment=mixer)
            await uow.intents.add(intent)
            if status in _INTENT:
                expected.append(Outflow(at, OutflowKind.MIXER if mixer else OutflowKind.PAYMENT, intent.id, token,
                                        intent.amount, intent.recipient, who, _INTENT[status], intent.tx_hash, intent.memo))
        starts = {"blk-a": T0 + timedelta(hours=3), "blk-b": T0 + timedelta(hours=7), "blk-c": T0 + timedelta(hours=7),
                  "blk-d": T0 + timedelta(hours=12, minutes=30), "blk-e": T0 + timedelta(hours=18), "blk-f": None}
        for b, (batch_id, started) in enumerate(starts.items()):
            who = OTHER if batch_id == "blk-d" else OP.ref
            rows = [BatchRow(batch_id, seq, 2 + seq * 3 + (seq > 4), hex_of(1000 * b + seq, 40),
                             "USDC" if (seq + b) % 3 else "CRO", 10**6 + seq, hex_of(1000 * b + seq + 10**6, 64),
                             memo=f"row {seq}" if seq % 2 else None, status=[RowStatus.PAID, RowStatus.FAILED,
                                                                               RowStatus.PENDING][seq % 3],
                             tx_hash=hex_of(seq, 64) if seq % 3 != 2 else None)
                    for seq in range(9 + 4 * b)]
            created = started or T0
            await uow.batches.add(Batch(batch_id, f"key-{batch_id}", who, f"{batch_id}.csv", "h", "csv", len(rows),
                                        {}, created, created, status=BatchStatus.DONE if started else BatchStatus.PREVIEW,
                                        started_at=started), rows)
            if started is not None:
                expected += [Outflow(started, OutflowKind.BULK, f"{batch_id}:{r.line}", r.token, r.amount, r.recipient,
                                     who, _ROW[r.status], r.tx_hash, r.memo, batch_id, r.line) for r in rows]
        await uow.commit()
    return expected


def newest_first(outflows: list[Outflow], where: LedgerFilter) -> list[Outflow]:
    kept = [o for o in outflows
            if (where.since is None or o.at >= where.since) and (where.until is None or o.at < where.until)
            and where.token in (None, o.token) and where.person in (None, o.requester) and where.status in (None, o.status)]
    return sorted(kept, key=lambda o: o.order, reverse=True)


FILTERS = [
    ("", LedgerFilter()),
    ("token=USDC", LedgerFilter(token="USDC")),
    ("status=paid", LedgerFilter(status=OutflowStatus.PAID)),
    ("person=telegram:77", LedgerFilter(person=OTHER)),
    ("from=2026-10-01&to=2026-10-01", LedgerFilter(since=T0 - timedelta(hours=12), until=T0 + timedelta(hours=12))),
    ("token=CRO&status=failed", LedgerFilter(token="CRO", status=OutflowStatus.FAILED)),
]


async def walk(app: App, where: LedgerFilter, part: LedgerPart | None) -> list[Outflow]:
    """The whole ledger (or one source), PIECE at a time, each piece strictly after the last one's cursor."""
    seen: list[Outflow] = []
    after: Cursor | None = None
    while True:
        async with app.uow() as uow:
            piece = (await uow.web.ledger_page(where, after, PIECE) if part is None
                     else await uow.web.ledger_part(part, where, after, PIECE))
        seen += piece
        if len(piece) < PIECE:
            return seen
        after = Cursor.after(piece[-1])


async def test_pieces_of_the_ledger_join_into_the_one_sorted_list(app, monkeypatch):
    monkeypatch.setattr(web_repositories, "BATCHES_PER_READ", 2)  # batches are listed over several reads too
    everything = await mixed_ledger(app)
    assert {o.kind for o in everything} == set(OutflowKind)
    for _, where in FILTERS:
        expected = newest_first(everything, where)
        assert expected, where
        assert await walk(app, where, None) == expected, where
        assert await walk(app, where, LedgerPart.BULK) == [o for o in expected if o.kind is OutflowKind.BULK], where
        assert await walk(app, where, LedgerPart.PAYMENTS) == [o for o in expected if o.kind is not OutflowKind.BULK]


async def csv_ids(client: httpx.AsyncClient, query: str) -> list[list[str]]:
    response = await client.get(f"/ledger.csv?{query}")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]


async def page_ids(client: httpx.AsyncClient, query: str) -> list[str]:
    seen, url = [], f"/ledger?{query}"
    while True:
        page = await client.get(url)
        assert page.status_code == 200, page.text
        seen += re.findall(r"<td><code>((?:pay|blk)-[\w:-]+)</code></td>", page.text)
        more = re.search(r'id="next" href="([^"]+)"', page.text)
        if more is None:
            return seen
        url = more.group(1).replace("&amp;", "&")


async def test_the_export_and_the_pages_list_the_same_rows_in_the_same_order(app, monkeypatch):
    monkeypatch.setattr(web_repositories, "BATCHES_PER_READ", 2)
    monkeypatch.setattr(streams, "CSV_CHUNK", PIECE)
    monkeypatch.setattr(ledger_pages, "PAGE_SIZE", PIECE)
    everything = await mixed_ledger(app)
    async with signed_in(app, OP) as client:
        for query, where in FILTERS:
            expected = newest_first(everything, where)
            exported = await csv_ids(client, query)
            assert [r[2] for r in exported] == [o.id for o in expected], query
            assert [(r[1], r[3], r[6], r[7], r[8], r[9]) for r in exported] == [
                (o.kind.value, o.token, o.requester, o.status.value, o.tx_hash or "", o.memo or "") for o in expected]
            assert await page_ids(client, query) == [o.id for o in expected], query
