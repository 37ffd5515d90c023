"""Bulk payout files: CSV or JSON bytes -> checked rows, errors by physical line, duplicates and exact totals."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.addresses import parse_address
from core.errors import UsageError
from core.money import Token, TokenRegistry, format_units, parse_units

MAX_ROWS = 10_000
MAX_BYTES = 5_000_000  # "5 MB", read as SI megabytes: a file of 5,000,001 bytes is refused
MAX_MEMO = 200

COLUMNS: dict[str, str] = {
    "recipient": "recipient", "address": "recipient", "to": "recipient",
    "amount": "amount", "value": "amount",
    "token": "token", "currency": "token", "asset": "token",
    "memo": "memo", "reference": "memo", "note": "memo",
}
_ORDER = ("recipient", "amount", "token", "memo")  # the columns of a file without a header
_DELIMITERS = ("\t", ";", ",")  # ties go to the rarer delimiter: a comma may sit inside a memo
_SNIFF_LINES = 50


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


class _FileProblem(Exception):
    """The whole file is refused; reported at line 0."""


class _Record:
    """One data row before checking: its physical line, and the cells found for each known column."""

    __slots__ = ("line", "cells", "problem")

    def __init__(self, line: int, cells: dict[str, Any], problem: str | None = None) -> None:
        self.line, self.cells, self.problem = line, cells, problem


def check_file(data: bytes, tokens: TokenRegistry, *, filename: str | None = None) -> BulkFile:
    """Read and check a payout file. Never raises for any input: every problem is a RowError."""
    digest = hashlib.sha256(data).hexdigest()
    records: list[_Record] = []
    try:
        text = _decode(data)
        fmt = _format_of(text, filename)
        if fmt == "json":
            records, delimiter, header = list(_json_records(text)), None, False
        else:
            delimiter = _sniff(text)
            records, header = _csv_records(text, delimiter)
        if not records:
            raise _FileProblem("empty: the file has no payment rows; put one payment per line: recipient, amount[, token[, memo]]")
        if len(records) > MAX_ROWS:
            raise _FileProblem(
                f"too many rows: the file has {len(records):,} payments; the limit is {MAX_ROWS:,} per file, so split it"
            )
    except _FileProblem as e:
        rows = len(records)
        return BulkFile("unknown", rows, (), (RowError(0, str(e)),), (), {}, digest, len(data))
    valid, errors = _check_records(records, tokens)
    return BulkFile(
        fmt, len(records), tuple(valid), tuple(errors), _duplicates(valid), _totals(valid), digest, len(data),
        delimiter, header, frozenset(e.line for e in errors),
    )


# ---------------------------------------------------------------- bytes -> text
def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise _FileProblem(f"too large: the file is {len(data):,} bytes; the limit is {MAX_BYTES:,} bytes (5 MB)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _FileProblem("not UTF-8: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8)")
    if data[:4] == b"PK\x03\x04":
        raise _FileProblem("not CSV or JSON: this looks like a spreadsheet (.xlsx); save it as CSV UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise _FileProblem(
            f"not UTF-8: byte 0x{data[e.start]:02x} on line {line} is not valid UTF-8; save the file as UTF-8"
        ) from None
    if "\x00" in text:
        raise _FileProblem("not CSV or JSON: the file contains NUL bytes, so it is binary, not text")
    if not text.strip():
        raise _FileProblem("empty: the file has no content; put one payment per line: recipient, amount[, token[, memo]]")
    return text


def _format_of(text: str, filename: str | None) -> str:
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        return "json"
    if filename and filename.lower().endswith(".json"):
        raise _FileProblem("not JSON: a .json file must hold an array of payments or {\"payments\": [...]}")
    return "csv"


# ---------------------------------------------------------------- CSV
def _sniff(text: str) -> str:
    """The delimiter whose count (outside quotes) is steady and highest over the first lines."""
    sample: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            sample.append(line)
            if len(sample) >= _SNIFF_LINES:
                break
    best, best_score = None, (0, 0)
    for d in _DELIMITERS:
        counts = [_count_outside_quotes(line, d) for line in sample]
        if not any(counts):
            continue
        steady = sum(1 for c in counts if c == counts[0] and c > 0)
        score = (steady, min(counts))
        if score > best_score:
            best, best_score = d, score
    if best is None:
        raise _FileProblem(
            "not CSV or JSON: no line has a comma, semicolon or tab between fields; "
            "write recipient and amount separated by one of them, or a JSON array"
        )
    return best


def _count_outside_quotes(line: str, d: str) -> int:
    if '"' not in line:
        return line.count(d)
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == d and not quoted:
            n += 1
    return n


def _csv_records(text: str, delimiter: str) -> tuple[list[_Record], bool]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=False)
    records: list[_Record] = []
    columns: list[str | None] | None = None
    header = False
    last = 0
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            cells = [f.strip() for f in fields]
            if not any(cells):
                continue  # blank line, or a row of empty cells as spreadsheets export
            if columns is None:
                columns, header = _columns(cells, start)
                if header:
                    continue
            if len(records) > MAX_ROWS:
                records.append(_Record(start, {}))  # counted, not checked: the file is refused anyway
                continue
            records.append(_row(cells, columns, start, header, delimiter))
    except csv.Error as e:
        raise _FileProblem(f"not CSV: line {reader.line_num}: {e}") from None
    return records, header


def _columns(cells: list[str], line: int) -> tuple[list[str | None], bool]:
    names = [COLUMNS.get(c.lower()) for c in cells]
    if any(c.lower().startswith("0x") for c in cells) or not any(names):
        return list(_ORDER), False
    seen: dict[str, str] = {}
    for cell, name in zip(cells, names):
        if name is None:
            continue
        if name in seen:
            raise _FileProblem(f"header (line {line}): columns “{seen[name]}” and “{cell}” both name the {name}; keep one")
        seen[name] = cell
    for needed, synonyms in (("recipient", "recipient, address or to"), ("amount", "amount or value")):
        if needed not in seen:
            raise _FileProblem(f"header (line {line}): no {needed} column; name one {synonyms}")
    return names, True


def _row(cells: list[str], columns: list[str | None], line: int, header: bool, delimiter: str) -> _Record:
    if not header and len(cells) > len(_ORDER):
        shown = {"\t": "tab", ";": "semicolon", ",": "comma"}[delimiter]
        return _Record(line, {}, (
            f"row: {len(cells)} fields, but without a header the columns are recipient, amount, token, memo; "
            f"put a memo that contains a {shown} in double quotes"
        ))
    out: dict[str, Any] = {}
    for name, cell in zip(columns, cells):
        if name is not None:
            out[name] = cell
    return _Record(line, out)


# ---------------------------------------------------------------- JSON
class JsonNumber(str):
    """A JSON number kept as the text written in the file, so no float ever touches it."""


_DECODER = json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=JsonNumber)
_WS = " \t\r\n"


def _json_records(text: str) -> Iterator[_Record]:
    pos = _skip(text, 0)
    lines = _LineCounter(text)
    if text[pos] == "{":
        pos = _find_payments(text, pos, lines)
    elif text[pos] != "[":
        raise _FileProblem("not JSON: expected an array of payments or {\"payments\": [...]}")
    pos = _skip(text, pos + 1)
    if text[pos:pos + 1] == "]":
        return
    count = 0
    while True:
        line = lines.at(pos)
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise _FileProblem(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        count += 1
        yield _json_record(value, line) if count <= MAX_ROWS + 1 else _Record(line, {})
        pos = _skip(text, pos)
        ch = text[pos:pos + 1]
        if ch == "]":
            break
        if ch != ",":
            raise _FileProblem(f"not JSON: expected , or ] after the payment on line {line}, at line {lines.at(pos)}")
        pos = _skip(text, pos + 1)
    if text.lstrip()[0] == "[" and text[pos + 1:].strip():
        raise _FileProblem("not JSON: unexpected text after the closing ] of the array")


def _find_payments(text: str, pos: int, lines: _LineCounter) -> int:
    """Walk the top-level object's keys to the position of the "payments" array."""
    pos = _skip(text, pos + 1)
    while text[pos:pos + 1] == '"':
        try:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos:pos + 1] != ":":
                raise _FileProblem(f"not JSON: expected : after “{key}” at line {lines.at(pos)}")
            pos = _skip(text, pos + 1)
            if key.lower() == "payments":
                if text[pos:pos + 1] != "[":
                    raise _FileProblem("not JSON payments: \"payments\" must be an array of objects")
                return pos
            _, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise _FileProblem(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        pos = _skip(text, pos)
        if text[pos:pos + 1] == ",":
            pos = _skip(text, pos + 1)
    raise _FileProblem("not JSON payments: the object has no \"payments\" array; send [...] or {\"payments\": [...]}")


def _json_record(value: Any, line: int) -> _Record:
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "a number" if isinstance(value, JsonNumber) else type(value).__name__
        return _Record(line, {}, f"row: expected an object with recipient and amount, got {kind}")
    cells: dict[str, Any] = {}
    for key, cell in value.items():
        name = COLUMNS.get(key.strip().lower())
        if name is None:
            continue
        if name in cells:
            return _Record(line, {}, f"row: two keys name the {name}; keep one")
        cells[name] = cell
    return _Record(line, cells)


def _skip(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _WS:
        pos += 1
    if pos >= n:
        raise _FileProblem("not JSON: the file ends before the array is closed")
    return pos


class _LineCounter:
    """Physical line of a position, counting forwards incrementally (positions only grow)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def at(self, pos: int) -> int:
        if pos < self.pos:
            return self.text.count("\n", 0, pos) + 1
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


# ---------------------------------------------------------------- checking
def _check_records(records: list[_Record], tokens: TokenRegistry) -> tuple[list[BulkRow], list[RowError]]:
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
