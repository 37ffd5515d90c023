"""How batches look in chat: preview, progress bar, final summary, and the CSV reports (spreadsheet-safe)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import timedelta

from core.addresses import short
from core.bulk.file import BulkFile, BulkRow, RowError
from core.bulk.model import Batch, BatchRow, BatchStatus
from core.money import TokenRegistry, format_units
from core.replies import Attachment, Button, Reply, Span, bold, code
from core.views import counted, network_fee

ERRORS_SHOWN = 20
ROWS_SHOWN = 5
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ (or tab/CR) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(header: list[str], rows: Iterable[Iterable[object]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM makes Excel read UTF-8


def error_report(filename: str, errors: Iterable[RowError]) -> Attachment:
    return Attachment(f"{_stem(filename)}-errors.csv", csv_bytes(["line", "error"], ((e.line, e.error) for e in errors)))


_REPORT_HEADER = ["line", "recipient", "amount", "token", "memo", "status", "tx_hash", "error"]


def result_report(batch: Batch, rows: list[BatchRow], tokens: TokenRegistry) -> Attachment:
    report = Summary(batch, tokens)
    report.add(rows)
    return report.attachment()


def _stem(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or "payouts"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in base)[:60]


def totals_text(totals: dict[str, int], tokens: TokenRegistry) -> str:
    return " · ".join(f"{format_units(u, tokens.get(s).decimals)} {s}" for s, u in totals.items()) or "nothing"


def batch_choice(batch: Batch, tokens: TokenRegistry) -> str:
    """A batch where a platform offers ids to pick from (autocomplete): id, status, size, totals, file."""
    totals = ", ".join(f"{format_units(u, tokens.get(s).decimals)} {s}" for s, u in batch.totals.items()) or "-"
    return f"{batch.id} · {batch.status.value} · {counted(batch.rows, 'row')} · {totals} · {batch.filename}"


def _row_line(r: BulkRow, tokens: TokenRegistry) -> tuple[Span | str, ...]:
    memo = f"  {r.memo[:40]}" if r.memo else ""
    return (f"  line {r.line}  ", code(short(r.recipient)), f"  {format_units(r.amount, tokens.get(r.token).decimals)} {r.token}{memo}")


def invalid_preview(filename: str, checked: BulkFile) -> Reply:
    """A file with errors: everything that is wrong, and no way to execute it."""
    if not checked.readable:
        return Reply.error(f"{filename} cannot be used: {checked.errors[0].error}")
    lines: list[tuple[Span | str, ...]] = [
        (bold(f"{filename}: {counted(len(checked.errors), 'error')} in "
              f"{len(checked.lines_with_errors):,} of {counted(checked.rows, 'row')}; nothing can be paid from it."),),
        ("Fix the file and send it again. ",),
    ]
    shown = checked.errors[:ERRORS_SHOWN]
    if len(checked.errors) > ERRORS_SHOWN:
        lines.append((f"The first {ERRORS_SHOWN} errors (all of them are in the attached report):",))
    lines += [(f"  line {e.line}: {e.error}",) for e in shown]
    files = (error_report(filename, checked.errors),) if len(checked.errors) > ERRORS_SHOWN else ()
    return Reply.of(*lines, files=files, kind="error")


def preview(
    batch: Batch,
    checked: BulkFile,
    tokens: TokenRegistry,
    *,
    recipients: int,
    fee_text: str,
    shortfalls: dict[str, tuple[int, int]] | None,
    allowance: tuple[str, ...] = (),
) -> Reply:
    """A valid file: what will be paid, what it costs, whether the treasury can (and the executor's on-chain
    allowance: each sentence of `allowance` is a warning), and the buttons."""
    lines: list[tuple[Span | str, ...]] = [
        (bold(f"Bulk payout {batch.id}"), f" from {batch.filename} ({batch.format.upper()})"),
        (f"Recipients: {recipients:,} in {counted(batch.rows, 'row')}",),
        ("Total: ", bold(totals_text(batch.totals, tokens))),
        (f"Estimated network fee: {fee_text}",),
    ]
    if shortfalls is None:
        lines.append(("Treasury: its balance cannot be read right now; Execute checks it again.",))
    elif shortfalls:
        for sym, (held, needed) in shortfalls.items():
            d = tokens.get(sym).decimals
            lines.append((f"Treasury: can spend {format_units(held, d)} {sym} (after payments already on their way), short by {format_units(needed - held, d)} {sym}; "
                          "top it up before executing.",))
    else:
        lines.append(("Treasury: holds enough ✓",))
    lines += [(f"⚠ Executor {why}",) for why in allowance]
    if checked.duplicates:
        lines.append((f"⚠ {counted(len(checked.duplicates), 'recipient')} "
                      f"{'appears' if len(checked.duplicates) == 1 else 'appear'} more than once (same token); "
                      "executing asks you to confirm:",))
        lines += [(f"  ", code(short(d.recipient)), f" {d.token} on lines {', '.join(map(str, d.lines[:10]))}")
                  for d in checked.duplicates[:ERRORS_SHOWN]]
    if batch.repeat_of:
        lines.append((f"⚠ The same file was uploaded before as ", code(batch.repeat_of), "; executing asks you to confirm.",))
    lines.append(("First rows:",))
    lines += [_row_line(r, tokens) for r in checked.valid[:ROWS_SHOWN]]
    buttons = (
        Button("Execute", f"/bulk execute {batch.id}", "primary"),
        Button("Cancel", f"/bulk cancel {batch.id}", "danger"),
    )
    return Reply.of(*lines, buttons=buttons)


def checked_only(filename: str, checked: BulkFile, tokens: TokenRegistry) -> Reply:
    """A valid file from someone who is not an operator: the check, no batch, no buttons, nothing about the
    treasury."""
    recipients = len({(r.recipient, r.token) for r in checked.valid})
    lines: list[tuple[Span | str, ...]] = [
        (bold(f"{filename} checks out"), f" ({checked.format.upper()})"),
        (f"Recipients: {recipients:,} in {counted(len(checked.valid), 'row')}",),
        ("Total: ", bold(totals_text(checked.totals, tokens))),
    ]
    if checked.duplicates:
        lines.append((f"⚠ {counted(len(checked.duplicates), 'recipient')} "
                      f"{'appears' if len(checked.duplicates) == 1 else 'appear'} more than once (same token)",))
    lines.append(("First rows:",))
    lines += [_row_line(r, tokens) for r in checked.valid[:ROWS_SHOWN]]
    lines.append(("Only operators can store and execute a bulk payout, so nothing was stored. "
                  "Ask an operator of this bot to send the file.",))
    return Reply.of(*lines)


def bar(done: int, total: int, width: int = 10) -> str:
    filled = min(width, done * width // total) if total else width
    return f"{'█' * filled}{'░' * (width - filled)} {done * 100 // total if total else 100}% ({done:,} / {total:,})"


def state(batch: Batch) -> str:
    """The batch's state in words. A running batch that was cancelled ends DONE in the model; here it stays
    "cancelled", so nobody reads it as complete."""
    if batch.cancelled and batch.status in (BatchStatus.RUNNING, BatchStatus.DONE):
        return "cancelling" if batch.status is BatchStatus.RUNNING else "cancelled"
    return "awaiting approval" if batch.status is BatchStatus.AWAITING else batch.status.value


def cancelled_line(batch: Batch, total: int) -> str:
    """Instead of a bar (which counts cancelled rows as settled, so it would read 100%): what the cancel left."""
    paid, failed = f"{batch.paid:,} of {counted(total, 'row')} paid", f", {batch.failed:,} failed" if batch.failed else ""
    if batch.status is BatchStatus.RUNNING:
        return f"Cancelling: {paid} so far{failed}, {batch.cancelled:,} not sent; transactions already sent still settle"
    return f"Cancelled: {paid} before the cancel{failed}, {batch.cancelled:,} not sent"


def progress(batch: Batch, total: int) -> Reply:
    head = {"running": "Paying", "cancelling": "Cancelling", "cancelled": "Cancelled"}.get(state(batch), "Finished")
    lines: list[tuple[str | Span, ...]] = [(bold(f"{head} bulk payout {batch.id}"),)]
    lines.append((cancelled_line(batch, total),) if batch.cancelled else (bar(batch.settled, total),))
    if batch.failed and not batch.cancelled:
        lines.append((f"{batch.failed:,} failed so far",))
    return Reply.of(*lines)


class Summary:
    """A finished batch's summary and its one-line-per-row report, built page by page, so a 100,000-row batch is
    never in memory at once: only the totals, the failure reasons and the CSV text are kept."""

    def __init__(self, batch: Batch, tokens: TokenRegistry) -> None:
        self.batch, self.tokens = batch, tokens
        self.rows = 0
        self.paid: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self._out = io.StringIO()
        self._csv = csv.writer(self._out, lineterminator="\r\n")
        self._csv.writerow(_REPORT_HEADER)

    def add(self, rows: Iterable[BatchRow]) -> None:
        for r in rows:
            self.rows += 1
            if r.status.value == "paid":
                self.paid[r.token] = self.paid.get(r.token, 0) + r.amount
            elif r.status.value == "failed":
                self.reasons[r.error or "unknown"] = self.reasons.get(r.error or "unknown", 0) + 1
            cells = (r.line, r.recipient, format_units(r.amount, self.tokens.get(r.token).decimals), r.token,
                     r.memo or "", r.status.value, r.tx_hash or "", r.error or "")
            self._csv.writerow([safe_cell(c) for c in cells])

    def attachment(self) -> Attachment:
        """The report (call once: the text buffer is released, as a 100,000-row report is ~13 MB)."""
        body = b"\xef\xbb\xbf" + self._out.getvalue().encode("utf-8")  # the BOM makes Excel read UTF-8
        self._out.close()
        return Attachment(f"{_stem(self.batch.filename)}-{self.batch.id}-report.csv", body)

    def reply(self) -> Reply:
        batch = self.batch
        took = (batch.finished_at - batch.started_at) if batch.finished_at and batch.started_at else timedelta(0)
        lines: list[tuple[Span | str, ...]] = [
            (bold(f"Bulk payout {batch.id} {'cancelled' if batch.cancelled else 'finished'}"), f" ({batch.filename})"),
            (f"Paid: {batch.paid:,} of {counted(self.rows, 'row')} — {totals_text(self.paid, self.tokens)}",),
        ]
        if batch.failed:
            lines.append((f"Failed: {batch.failed:,}",))
            lines += [(f"  {n:,} × {why}",) for why, n in sorted(self.reasons.items(), key=lambda x: -x[1])[:5]]
            lines.append(("Send ", code(f"/bulk retry {batch.id}"), " to re-run only the failed rows."))
        if batch.cancelled:
            lines.append((f"Cancelled: {batch.cancelled:,}",))
        lines.append((f"Network fees: {network_fee(self.tokens, batch.fees)}",))
        lines.append((f"Time: {took.total_seconds():.1f} s",))
        lines.append(("The attached report has one line per row with its status, tx hash and error.",))
        kind = "ok" if not batch.failed else "error" if not batch.paid else "info"
        return Reply.of(*lines, files=(self.attachment(),), private=True, kind=kind)


def summary(batch: Batch, rows: list[BatchRow], tokens: TokenRegistry) -> Reply:
    report = Summary(batch, tokens)
    report.add(rows)
    return report.reply()


def status(batch: Batch, total: int, tokens: TokenRegistry) -> Reply:
    lines: list[tuple[Span | str, ...]] = [
        (bold(f"Bulk payout {batch.id}"), f"  {state(batch)}  ({batch.filename})"),
        ("Total: ", totals_text(batch.totals, tokens)),
    ]
    if batch.status not in (BatchStatus.PREVIEW, BatchStatus.AWAITING):
        fees = f"fees {network_fee(tokens, batch.fees)}"
        if batch.cancelled:
            lines.append((f"{cancelled_line(batch, total)} · {fees}",))
        else:
            lines.append((bar(batch.settled, total),))
            lines.append((f"Paid {batch.paid:,} · failed {batch.failed:,} · cancelled {batch.cancelled:,} · {fees}",))
    buttons: tuple[Button, ...] = ()
    if batch.status is BatchStatus.PREVIEW:
        buttons = (Button("Execute", f"/bulk execute {batch.id}", "primary"), Button("Cancel", f"/bulk cancel {batch.id}", "danger"))
    elif batch.status is BatchStatus.AWAITING:
        buttons = (Button("Cancel", f"/bulk cancel {batch.id}", "danger"),)
    elif batch.status is BatchStatus.RUNNING and not batch.cancelled:
        buttons = (Button("Cancel the rest", f"/bulk cancel {batch.id}", "danger"),)
    elif batch.status is BatchStatus.DONE and batch.failed:
        buttons = (Button("Retry failed rows", f"/bulk retry {batch.id}", "primary"),)
    return Reply.of(*lines, buttons=buttons)
