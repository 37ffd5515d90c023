"""Bulk payout files: what a check found (BulkFile), the checks, the upload limits, and the choice of reader.

The bytes are decoded here; core.bulk.csvfile, jsonfile, listfile (Disperse-style lists) and xlsxfile turn them
into records by line; the checks turn records into valid rows, errors by line, duplicates and exact totals.
A recipient may be a @handle, a Discord mention or a saved payee's name: checked here for form only, resolved at upload
(core.bulk.people), where the bot's database knows who linked which wallet.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from core.addresses import ZERO_ADDRESS, parse_address, to_checksum
from core.bulk.csvfile import csv_records
from core.bulk.jsonfile import JsonNumber, json_records
from core.bulk.listfile import list_records, looks_like_list
from core.bulk.records import MAX_ROWS, FileProblem, Record, cycle_collection_paused
from core.bulk.safe import safe_token
from core.errors import UsageError
from core.money import UINT256_MAX, Token, TokenRegistry, format_units, parse_units
from core.payees import looks_like_name

MAX_BYTES = 5_000_000  # "5 MB", read as SI megabytes: a file of 5,000,001 bytes is refused
MAX_MEMO = 200
MAX_SHELL_BYTES = 200_000_000  # `snowrail bulk run`: no chat platform limits the file, only memory does
MAX_SHELL_ROWS = 1_000_000

# A person rather than an address: "@alice" (a handle on the uploader's platform) or "<@123>" (a Discord mention).
_HANDLE = re.compile(r"^@([A-Za-z0-9_]{1,32})$")
_MENTION = re.compile(r"^<@!?([0-9]{1,25})>$")

log = logging.getLogger("snowrail.bulk")


class BulkRow(NamedTuple):
    """One valid payout of the file: `amount` in base units of `token` (a symbol). `recipient` is a checksummed
    address, or, until core.bulk.people resolves it, a person: "@handle" or "discord:<id>". A NamedTuple, not a
    frozen dataclass: a 100,000-row file makes 100,000 of them, at a quarter of the cost."""

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

    format: str  # csv | json | list | xlsx | unknown
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
    def people(self) -> tuple[int, ...]:
        """Lines of valid rows naming a person (@handle, mention) who must be resolved to a wallet first."""
        return tuple(r.line for r in self.valid if not r.recipient.startswith("0x"))

    def with_rows(self, valid: list[BulkRow], errors: list[RowError]) -> BulkFile:
        """The same file after a later check (resolving people): duplicates and totals counted again."""
        errors = sorted(errors, key=lambda e: e.line)
        return replace(self, valid=tuple(valid), errors=tuple(errors), duplicates=_duplicates(valid),
                       totals=_totals(valid), lines_with_errors=frozenset(e.line for e in errors))

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


def check_file(
    data: bytes, tokens: TokenRegistry, *, filename: str | None = None, max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
) -> BulkFile:
    """Read and check a payout file (CSV, Safe CSV Airdrop, JSON, a Disperse-style list, or .xlsx). Never
    raises for any input: every problem is a RowError."""
    with cycle_collection_paused():
        return _check_file(data, tokens, filename, max_rows, max_bytes)


def _check_file(data: bytes, tokens: TokenRegistry, filename: str | None, max_rows: int, max_bytes: int) -> BulkFile:
    digest = hashlib.sha256(data).hexdigest()
    records: list[Record] = []
    delimiter: str | None = None
    header = False
    try:
        if len(data) > max_bytes:
            raise FileProblem(f"too large: the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes "
                              f"({max_bytes / 1_000_000:g} MB)".replace(".0 MB", " MB"))
        if data[:4] == b"PK\x03\x04":
            from core.bulk.xlsxfile import xlsx_records

            fmt = "xlsx"
            records, header = xlsx_records(data, max_rows)
        else:
            text = _decode(data)
            fmt = _format_of(text, filename)
            if fmt == "json":
                records = list(json_records(text, max_rows))
            elif fmt == "list":
                records = list_records(text, frozenset(tokens.symbols()), max_rows)
            else:
                records, delimiter, header = csv_records(text, max_rows)
        if not records:
            raise FileProblem("empty: the file has no payment rows; put one payment per line: recipient, amount[, token[, memo]]")
        if len(records) > max_rows:
            raise FileProblem(
                f"too many rows: the file has {len(records):,} payments; the limit is {max_rows:,} per file, so split it"
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
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise FileProblem("not UTF-8: the file is UTF-32; save it as UTF-8 (in Excel: CSV UTF-8)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(data):
        raise FileProblem("not UTF-8: the file is UTF-16; save it as UTF-8 (in Excel: CSV UTF-8)")
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
    if looks_like_list(text) and ((filename or "").lower().endswith(".txt") or not _has_delimiter(text)):
        return "list"
    return "csv"


def _has_delimiter(text: str) -> bool:
    """Whether the first line has a tab, semicolon or comma (CSV); Disperse lists may use spaces or `=`."""
    first = text.lstrip().split("\n", 1)[0]
    return any(d in first for d in ("\t", ";", ","))


# ---------------------------------------------------------------- checking
def _check_records(records: list[Record], tokens: TokenRegistry) -> tuple[list[BulkRow], list[RowError]]:
    valid: list[BulkRow] = []
    errors: list[RowError] = []
    addresses: dict[str, str | UsageError] = {}
    native = tokens.native
    by_text: dict[str | None, Token | None] = {None: native, "": native}  # token cell -> token (None: unknown)
    for rec in records:
        if rec.problem:
            errors.append(RowError(rec.line, rec.problem))
            continue
        c = rec.cells
        # The fast path: a plain row that checks out, as nearly every row of a 100,000-row file does. Anything
        # else (or anything it does not accept) takes the full path below, which names every problem.
        r, a, t, m = c.get("recipient"), c.get("amount"), c.get("token"), c.get("memo")
        if (type(r) is str and isinstance(a, str) and type(t) in _TEXT_TYPES and type(m) in _MEMO_TYPES
                and "token_type" not in c and "token_address" not in c):
            got = addresses.get(r)
            if got is None:
                got = addresses[r] = _recipient(r.strip())
            known = by_text[t] if t in by_text else by_text.setdefault(t, _known(tokens, t))
            if (isinstance(got, str) and known is not None and (m is None or len(m) <= MAX_MEMO)
                    and (fast := _SIMPLE_AMOUNT.match(a)) is not None):
                whole, frac = fast.groups()
                d = known.decimals
                if frac is None or len(frac) <= d:
                    paid = int(whole + (frac or "").ljust(d, "0"))
                    if 0 < paid <= UINT256_MAX:
                        note = m.strip() if m else None
                        valid.append(BulkRow(rec.line, got, known.symbol, paid, note or None))
                        continue
        problems: list[str] = []
        recipient = _text(c.get("recipient"))
        if c.get("recipient") is not None and not isinstance(c["recipient"], str):
            problems.append("recipient: must be text, 0x followed by 40 hex digits")
        elif not recipient:
            problems.append("recipient: missing; write the address, 0x followed by 40 hex digits")
        else:
            got = addresses.get(recipient)
            if got is None:
                got = addresses[recipient] = _recipient(recipient)
            if isinstance(got, UsageError):
                problems.append(got.message)
                got = None
        token: Token | None = native
        symbol = _text(c.get("token"))
        if "token_type" in c or "token_address" in c:  # Safe CSV Airdrop
            token, problem = safe_token(c.get("token_type"), c.get("token_address"), tokens)
            if problem:
                problems.append(problem)
        elif c.get("token") is not None and not isinstance(c["token"], str):
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


_TEXT_TYPES = (str, type(None))
_MEMO_TYPES = (str, JsonNumber, type(None))
_ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
_SIMPLE_AMOUNT = re.compile(r"^\s*([0-9]{1,70})(?:\.([0-9]{1,80}))?\s*$")


def _known(tokens: TokenRegistry, symbol: str | None) -> Token | None:
    try:
        return tokens.get(symbol or "")
    except UsageError:
        return None


def _recipient(text: str) -> str | UsageError:
    """A checksummed address, "@handle" or "discord:<id>"; or the error naming what is wrong."""
    if text[:1] in ("@", "<"):
        if m := _HANDLE.match(text):
            return "@" + m.group(1).lower()
        if m := _MENTION.match(text):
            return f"discord:{m.group(1)}"
        return UsageError(f"recipient: {text[:50]} is neither an address, a @handle (letters, digits, _) nor a "
                          "Discord mention like <@123>", field="recipient")
    if looks_like_name(text):  # a saved payee's name (core.payees): resolved at upload, as people are
        return "payee:" + text.lower()
    if len(text) == 42 and _ADDRESS.match(text):  # the common case, without parse_address's many checks
        checksummed = to_checksum(text)
        body = text[2:]
        if checksummed != ZERO_ADDRESS and (checksummed[2:] == body or body.islower() or body.isupper()):
            return checksummed
    try:
        return parse_address(text, field="recipient")
    except UsageError as e:
        return e


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _duplicates(valid: list[BulkRow]) -> tuple[Duplicate, ...]:
    first: dict[str, int] = {}  # recipient and token -> first line; a list only for the few seen again
    again: dict[str, list[int]] = {}
    for row in valid:
        key = row.recipient + row.token
        line = first.setdefault(key, row.line)
        if line != row.line:
            again.setdefault(key, [line]).append(row.line)
    by_key = {r.recipient + r.token: r for r in valid if r.recipient + r.token in again} if again else {}
    return tuple(Duplicate(by_key[k].recipient, by_key[k].token, tuple(lines)) for k, lines in again.items())


def _totals(valid: list[BulkRow]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in valid:
        totals[row.token] = totals.get(row.token, 0) + row.amount
    return totals
