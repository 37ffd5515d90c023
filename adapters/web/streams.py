"""The dashboard's long answers: bulk batches and their live progress (server-sent events), and the ledger's CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from adapters.web.app import Dashboard
from adapters.web.pages import _filter_for
from adapters.web.render import amount, reply_html
from core.bulk.model import Batch, BatchStatus
from core.bulk.views import bar, safe_cell, state, status
from core.dashboard import CSV_CHUNK, Cursor, LedgerFilter, LedgerPart, Page
from core.errors import UserError
from core.ledger import Outflow
from core.money import format_units

ROWS_SHOWN = 500  # a batch page lists this many rows; the whole report is its CSV in chat
STREAM_POLL_S = 0.2  # how often the server re-reads a running batch: progress reaches the page within ~0.2 s
_FINISHED = (BatchStatus.DONE, BatchStatus.CANCELLED)
_CSV_HEADER = ["time (UTC)", "kind", "id", "token", "amount", "recipient", "requested by", "status", "tx hash", "memo"]


def _d(request: Request) -> Dashboard:
    d: Dashboard = request.app.state.dashboard
    return d


def progress_of(batch: Batch) -> dict[str, object]:
    """What the page's progress bar shows, as the events carry it."""
    total = batch.rows
    return {"id": batch.id, "state": state(batch), "settled": batch.settled, "total": total, "paid": batch.paid,
            "failed": batch.failed, "percent": batch.settled * 100 // total if total else 100,
            "text": bar(batch.settled, total), "finished": batch.status in _FINISHED}


async def batches(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.BATCHES)
    async with d.services.uow() as uow:
        found = await uow.web.batches(100)
    tokens = d.services.chain.tokens
    items = [{"b": b, "p": progress_of(b),
              "totals": ", ".join(amount(v, k, tokens) for k, v in sorted(b.totals.items()))} for b in found]
    return d.page(request, "batches.html", viewer, items=items)


async def _live(d: Dashboard, found: Batch) -> dict[str, Any]:
    """What the batch page shows under its progress bar: the report and the first ROWS_SHOWN rows."""
    async with d.services.uow() as uow:
        rows = await uow.batches.rows(found.id, seqs=(0, ROWS_SHOWN))
    chain = d.services.chain
    shown = [{"r": r, "amount": amount(r.amount, r.token, chain.tokens),
              "explorer": chain.explorer_url(r.tx_hash) if r.tx_hash else None} for r in rows]
    return {"b": found, "rows": shown, "more": found.rows > len(rows),
            "report": reply_html(status(found, found.rows, chain.tokens))}


async def batch(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.BATCHES)
    batch_id = request.path_params["batch_id"]
    async with d.services.uow() as uow:
        found = await uow.batches.get(batch_id)
    if found is None:
        raise UserError(f"batch: there is no bulk batch {batch_id[:40]!r}", field="batch")
    return d.page(request, "batch.html", viewer, p=progress_of(found), **await _live(d, found))


def _event(name: str, data: str) -> str:
    """One server-sent event; each line of a multi-line `data` gets its own `data:` field."""
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"


async def events(request: Request) -> Response:
    """GET /batches/<id>/events: server-sent events, one `progress` each time the batch's counts change, then
    `live` (the report and the rows' statuses as the page's HTML, swapped in place), and at the end `finished`.
    The page subscribes with EventSource (static/live.js): no polling loop in the page, no reload."""
    d = _d(request)
    await d.require(request, Page.BATCHES)
    batch_id = request.path_params["batch_id"]
    fragment = d.templates.get_template("batch_live.html")

    async def stream() -> AsyncIterator[str]:
        last: tuple[dict[str, object], object, object] | None = None
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            async with d.services.uow() as uow:
                found = await uow.batches.get(batch_id)
            if found is None:
                yield _event("missing", json.dumps({"id": batch_id}))
                return
            now = progress_of(found)
            seen = (now, found.status, found.updated_at)  # a status change moves the report even when counts stay
            if seen != last:
                if last is None or now != last[0]:
                    yield _event("progress", json.dumps(now))  # first: the bar is what must arrive fast
                # Rows are only re-read and re-rendered when the batch moved, at most every STREAM_POLL_S.
                yield _event("live", fragment.render(**await _live(d, found)))
                last = seen
            if now["finished"]:
                yield _event("finished", json.dumps(now))
                return
            await asyncio.sleep(STREAM_POLL_S)  # the server waits for the database, the page only listens

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class _Source:
    """One ledger source read forward by its own keyset, a chunk at a time, each chunk in a short unit of work."""

    def __init__(self, d: Dashboard, part: LedgerPart, where: LedgerFilter) -> None:
        self.d, self.part, self.where = d, part, where
        self.buffer: deque[Outflow] = deque()
        self.after: Cursor | None = None
        self.done = False

    async def head(self) -> Outflow | None:
        if not self.buffer and not self.done:
            async with self.d.services.uow() as uow:
                found = await uow.web.ledger_part(self.part, self.where, self.after, CSV_CHUNK)
            self.buffer.extend(found)
            self.done = len(found) < CSV_CHUNK
            if found:
                self.after = Cursor.after(found[-1])
        return self.buffer[0] if self.buffer else None


async def merged(d: Dashboard, where: LedgerFilter) -> AsyncIterator[list[Outflow]]:
    """Every outflow matching `where`, newest first, in lists of at most CSV_CHUNK: the two sources merged as they
    are read, so each row is fetched once and memory holds about two chunks whatever the ledger's length."""
    sources = [_Source(d, part, where) for part in LedgerPart]
    while True:
        heads = sorted([(o.order, i) for i, s in enumerate(sources) if (o := await s.head()) is not None], reverse=True)
        if not heads:
            return
        buffer = sources[heads[0][1]].buffer
        if len(heads) == 1:  # the other source is finished: this one's whole chunk goes as it is
            out = list(buffer)
            buffer.clear()
        else:  # the run of this source that is newer than the other's next outflow
            bound, out = heads[1][0], []
            while buffer and buffer[0].order > bound:
                out.append(buffer.popleft())
        yield out


async def ledger_csv(request: Request) -> Response:
    """GET /ledger.csv?<the ledger's filters>: every matching outflow, streamed as it is read (see merged)."""
    d = _d(request)
    viewer = await d.require(request, Page.LEDGER)
    where = _filter_for(d, viewer, request.query_params)
    decimals = {t.symbol: t.decimals for t in d.services.chain.tokens}

    async def stream() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_CSV_HEADER)
        yield b"\xef\xbb\xbf" + out.getvalue().encode()  # the BOM makes Excel read UTF-8
        async for chunk in merged(d, where):
            out.seek(0)
            out.truncate()
            for o in chunk:
                shown = format_units(o.amount, decimals[o.token]) if o.token in decimals else str(o.amount)
                writer.writerow([safe_cell(c) for c in (o.at.isoformat(), o.kind.value, o.id, o.token, shown,
                                                        o.recipient, o.requester, o.status.value, o.tx_hash or "",
                                                        o.memo or "")])
            yield out.getvalue().encode()

    name = "snowrail-ledger.csv"
    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


ROUTES = [
    Route("/ledger.csv", ledger_csv),
    Route("/batches", batches),
    Route("/batches/{batch_id}", batch),
    Route("/batches/{batch_id}/events", events),
]
