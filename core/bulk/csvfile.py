"""CSV payout files -> records: the delimiter sniffed, an optional header naming the columns, one record per line."""

from __future__ import annotations

import csv
import io
from typing import Any

from core.bulk.records import COLUMNS, MAX_ROWS, FileProblem, Record

_ORDER = ("recipient", "amount", "token", "memo")  # the columns of a file without a header
_DELIMITERS = ("\t", ";", ",")  # ties go to the rarer delimiter: a comma may sit inside a memo
_SNIFF_LINES = 50


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
        raise FileProblem(
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


def csv_records(text: str, max_rows: int = MAX_ROWS) -> tuple[list[Record], str, bool]:
    """The payments of a delimited text file, each with its physical line; and the delimiter found, and
    whether the first row was a header naming the columns."""
    delimiter = _sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True, strict=False)
    records: list[Record] = []
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
                columns, header = header_of(cells, start)
                if header:
                    continue
            if len(records) > max_rows:
                records.append(Record(start, {}))  # counted, not checked: the file is refused anyway
                continue
            records.append(record_of(cells, columns, start, header, delimiter))
    except csv.Error as e:
        raise FileProblem(f"not CSV: line {reader.line_num}: {e}") from None
    return records, delimiter, header


def header_of(cells: list[str], line: int) -> tuple[list[str | None], bool]:
    """The column names if `cells` (the first non-empty row, on `line`) is a header; else the plain order."""
    names = [COLUMNS.get(c.lower()) for c in cells]
    if any(c.lower().startswith("0x") for c in cells) or not any(names):
        return list(_ORDER), False
    seen: dict[str, str] = {}
    for cell, name in zip(cells, names):
        if name is None:
            continue
        if name in seen:
            raise FileProblem(f"header (line {line}): columns “{seen[name]}” and “{cell}” both name the {name}; keep one")
        seen[name] = cell
    for needed, synonyms in (("recipient", "recipient, receiver, address or to"), ("amount", "amount or value")):
        if needed not in seen:
            raise FileProblem(f"header (line {line}): no {needed} column; name one {synonyms}")
    return names, True


def record_of(cells: list[str], columns: list[str | None], line: int, header: bool, delimiter: str) -> Record:
    """One data row as a record; `delimiter` is "" for a spreadsheet's cells."""
    if not header and len(cells) > len(_ORDER):
        if not delimiter:
            return Record(line, {}, f"row: {len(cells)} cells, but without a header row the columns are recipient, "
                                    "amount, token, memo; add a header row naming the columns")
        shown = {"\t": "tab", ";": "semicolon", ",": "comma"}[delimiter]
        return Record(line, {}, (
            f"row: {len(cells)} fields, but without a header the columns are recipient, amount, token, memo; "
            f"put a memo that contains a {shown} in double quotes"
        ))
    out: dict[Any, Any] = dict(zip(columns, cells))
    out.pop(None, None)  # cells under columns we do not read
    return Record(line, out)
