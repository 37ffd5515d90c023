"""Bulk payout files: what a check found (BulkFile), the checks, the upload limits, and the choice of reader.

The bytes are decoded here; core.bulk.csvfile and core.bulk.jsonfile turn the text into records by physical
line; the checks turn records into valid rows, errors by line, duplicates and exact totals.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from core.addresses import parse_address
from core.bulk.csvfile import csv_records
from core.bulk.jsonfile import JsonNumber, json_records
from core.bulk.records import MAX_ROWS, FileProblem, Record
from core.errors import UsageError
from core.money import Token, TokenRegistry, format_units, parse_units

MAX_BYTES = 5_000_000  # "5 MB", read as SI megabytes: a file of 5,000,001 bytes is refused
MAX_MEMO = 200

log = logging.getLogger("snowrail.bulk")


@dataclass(frozen=True)
class BulkRow:
    """One valid payout of the file: `amount` in base units of `token` (a symbol)."""

    line: int
    recipient: str
    token: str
    amount: int
    memo: str | None = None


@dataclass(frozen=True)
class RowError:
    line: int  # 0 for a problem with the whole file
    error: str


@dataclass(frozen=True)
class Duplicate:
    recipient: str
    token: str
    lines: tuple[int, ...]


@dataclass(frozen=True)
class BulkFile:
    """Everything a check of a file found. `readable` is False when the whole file was refused (line 0)."""

    format: str  # csv | json | unknown
    rows: int  # data rows read
    valid: tuple[BulkRow, ...]
    errors: tuple[RowError, ...]
    duplicates: tuple[Duplicate, ...]
    totals: dict[str, int]  # symbol -> base units of the valid rows, in order of first appearance
    content_hash: str  # sha256 of the bytes as received
    size: int
    delimiter: str | None = None
    header: bool = False
    lines_with_errors: frozenset[int] = field(default_factory=frozenset)

    @property
    def readable(self) -> bool:
        return not any(e.line == 0 for e in self.errors)

    @property
    def executable(self) -> bool:
        """No errors at all (duplicates still need an explicit confirmation before executing)."""
        return not self.errors and bool(self.valid)

    @property
    def exit_code(self) -> int:
        """`snowrail bulk check`: 0 executable as is, 1 errors in rows, 2 the file cannot be read."""
        return 2 if not self.readable else 1 if self.errors else 0

    def totals_text(self, tokens: TokenRegistry) -> dict[str, str]:
        return {sym: format_units(units, tokens.get(sym).decimals) for sym, units in self.totals.items()}

    def summary(self, tokens: TokenRegistry) -> dict[str, Any]:
        """The `snowrail bulk check --json` object."""
        return {
            "rows": self.rows,
            "valid": len(self.valid),
            "errors": [{"line": e.line, "error": e.error} for e in self.errors],
            "duplicates": [{"recipient": d.recipient, "token": d.token, "lines": list(d.lines)} for d in self.duplicates],
            "totals": self.totals_text(tokens),
        }


def check_file(data: bytes, tokens: TokenRegistry, *, filename: str | None = None) -> BulkFile:
    """Read and check a payout file. Never raises for any input: every problem is a RowError."""
    digest = hashlib.sha256(data).hexdigest()
    records: list[Record] = []
    try:
        text = _decode(data)
        fmt = _format_of(text, filename)
        if fmt == "json":
            records, delimiter, header = list(json_records(text)), None, False
        else:
            records, delimiter, header = csv_records(text)
        if not records:
            raise FileProblem("empty: the file has no payment rows; put one payment per line: recipient, amount[, token[, memo]]")
        if len(records) > MAX_ROWS:
            raise FileProblem(
                f"too many rows: the file has {len(records):,} payments; the limit is {MAX_ROWS:,} per file, so split it"
            )
        valid, errors = _check_records(records, tokens)
    except FileProblem as e:
        return _refused(str(e), len(records), digest, len(data))
    except Exception:  # a bug of ours, never the sender's: still an answer, not a traceback in chat
        log.exception("bulk file check failed (%s bytes, sha256 %s)", len(data), digest)
        return _refused("cannot be read: an unexpected problem on our side; check the file with "
                        "`snowrail bulk check` or send it as plain CSV", len(records), digest, len(data))
    return BulkFile(
        fmt, len(records), tuple(valid), tuple(errors), _duplicates(valid), _totals(valid), digest, len(data),
        delimiter, header, frozenset(e.line for e in errors),
    )


def _refused(why: str, rows: int, digest: str, size: int) -> BulkFile:
    return BulkFile("unknown", rows, (), (RowError(0, why),), (), {}, digest, size)


# ---------------------------------------------------------------- bytes -> text
def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise FileProblem(f"too large: the file is {len(data):,} bytes; the limit is {MAX_BYTES:,} bytes (5 MB)")
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise FileProblem("not UTF-8: the file is UTF-32; save it as UTF-8 (in Excel: CSV UTF-8)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(data):
        raise FileProblem("not UTF-8: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8)")
    if data[:4] == b"PK\x03\x04":
        raise FileProblem("not CSV or JSON: this looks like a spreadsheet (.xlsx); save it as CSV UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FileProblem(
            f"not UTF-8: byte 0x{data[e.start]:02x} on line {line} is not valid UTF-8; save the file as UTF-8"
        ) from None
    if "\x00" in text:
        raise FileProblem("not CSV or JSON: the file contains NUL bytes, so it is binary, not text")
    if not text.strip():
        raise FileProblem("empty: the file has no content; put one payment per line: recipient, amount[, token[, memo]]")
    return text


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte order mark: ASCII text with a zero byte in every other place."""
    head = data[:200]
    odd, even = head[1::2], head[0::2]
    return len(head) >= 4 and any(z.count(0) == len(z) and 0 not in t for z, t in ((odd, even), (even, odd)))


def _format_of(text: str, filename: str | None) -> str:
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        return "json"
    if filename and filename.lower().endswith(".json"):
        raise FileProblem("not JSON: a .json file must hold an array of payments or {\"payments\": [...]}")
    return "csv"


# ---------------------------------------------------------------- checking
def _check_records(records: list[Record], tokens: TokenRegistry) -> tuple[list[BulkRow], list[RowError]]:
    valid: list[BulkRow] = []
    errors: list[RowError] = []
    addresses: dict[str, str | UsageError] = {}
    native = tokens.native
    for rec in records:
        if rec.problem:
            errors.append(RowError(rec.line, rec.problem))
            continue
        problems: list[str] = []
        c = rec.cells
        recipient = _text(c.get("recipient"))
        if c.get("recipient") is not None and not isinstance(c["recipient"], str):
            problems.append("recipient: must be text, 0x followed by 40 hex digits")
        elif not recipient:
            problems.append("recipient: missing; write the address, 0x followed by 40 hex digits")
        else:
            got = addresses.get(recipient)
            if got is None:
                try:
                    got = parse_address(recipient, field="recipient")
                except UsageError as e:
                    got = e
                addresses[recipient] = got
            if isinstance(got, UsageError):
                problems.append(got.message)
                got = None
        token: Token | None = native
        symbol = _text(c.get("token"))
        if c.get("token") is not None and not isinstance(c["token"], str):
            problems.append(f"token: must be text, one of {', '.join(tokens.symbols())}")
            token = None
        elif symbol:
            try:
                token = tokens.get(symbol)
            except UsageError as e:
                problems.append(e.message)
                token = None
        units = None
        raw_amount = c.get("amount")
        if raw_amount is None or isinstance(raw_amount, (str, JsonNumber)):
            if token is not None:
                try:
                    units = parse_units(raw_amount or "", token)
                except UsageError as e:
                    problems.append(e.message)
        else:
            problems.append("amount: must be a number or a string like \"25\" or \"0.5\"")
        memo = c.get("memo")
        memo_text = None if memo is None else _text(memo)
        if memo is not None and not isinstance(memo, (str, JsonNumber)):
            problems.append("memo: must be text")
        elif memo_text and len(memo_text) > MAX_MEMO:
            problems.append(f"memo: {len(memo_text)} characters; the most is {MAX_MEMO}")
        if problems:
            errors.extend(RowError(rec.line, p) for p in problems)
        elif isinstance(got, str) and token is not None and units is not None:
            valid.append(BulkRow(rec.line, got, token.symbol, units, memo_text or None))
    return valid, errors


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _duplicates(valid: list[BulkRow]) -> tuple[Duplicate, ...]:
    seen: dict[tuple[str, str], list[int]] = {}
    for row in valid:
        seen.setdefault((row.recipient, row.token), []).append(row.line)
    return tuple(Duplicate(r, t, tuple(lines)) for (r, t), lines in seen.items() if len(lines) > 1)


def _totals(valid: list[BulkRow]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in valid:
        totals[row.token] = totals.get(row.token, 0) + row.amount
    return totals
