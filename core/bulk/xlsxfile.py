"""Excel (.xlsx) payout files -> records: the first visible sheet, cached formula values, the sheet's row numbers."""

from __future__ import annotations

import io
import re
import warnings
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from core.bulk.csvfile import header_of, record_of
from core.bulk.records import MAX_ROWS, FileProblem, Record, shown

# A double holds 15 significant decimal digits for sure: a float cell with more was not typed as it reads.
_EXACT_DIGITS = 15
_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)([0-9]+)(?::[A-Z]+([0-9]+))?"')


def xlsx_records(data: bytes, max_rows: int = MAX_ROWS) -> tuple[list[Record], bool]:
    """The payments of the first visible sheet, each with its row number; and whether row 1 was a header."""
    # imported on first use: most files are CSV, and it costs ~0.1 s
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # openpyxl ships no type hints

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it does not read
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - any failure of the parser on these bytes means the file is unreadable
        raise FileProblem(f"not a readable spreadsheet (.xlsx): {type(e).__name__}; save it again from Excel, or as CSV UTF-8") from None
    try:
        visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
        if not visible:
            raise FileProblem("xlsx: every sheet is hidden; unhide the sheet with the payments (the first visible "
                              "sheet is read)")
        sheet = visible[0]
        sheet.reset_dimensions()  # some writers record a wrong size; read what is really there
        records: list[Record] = []
        columns: list[str | None] | None = None
        header = False
        merged = _merged_rows(book, sheet)
        for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), 1):
            cells, problems = _cells(values)
            if not any(cells) and not problems:
                continue
            if columns is None:
                if number in merged:
                    raise FileProblem(f"xlsx: the header (row {number}) has merged cells; unmerge them so each "
                                      "column has its own name")
                columns, header = header_of(cells, number)
                if header:
                    continue
            # A date is fine as a memo; anywhere else (an amount above all) it is a mistake, refused on its row.
            problem = next((p for i, p in problems if i >= len(columns) or columns[i] != "memo"), None)
            if len(records) > max_rows:
                records.append(Record(number, {}))  # counted, not checked: the file is refused anyway
            elif problem is not None:
                records.append(Record(number, {}, problem))
            else:
                records.append(record_of(cells, columns, number, header, ""))
    finally:
        book.close()
    if not records:
        raise FileProblem(f"xlsx: the sheet “{shown(sheet.title)}” has no payment rows; put one payment per row: "
                          "recipient, amount[, token[, memo]]")
    return records, header


def _merged_rows(book: Any, sheet: Any) -> set[int]:
    """Rows touched by merged cells. Read-only mode does not parse <mergeCells>, so read them from the sheet's
    XML part (openpyxl keeps its name on the read-only sheet) with a pattern: they sit after the data."""
    try:
        raw = book._archive.read(sheet._worksheet_path)
    except (AttributeError, KeyError):
        return set()
    rows: set[int] = set()
    for m in _MERGE.finditer(raw, raw.rfind(b"</sheetData>") if b"</sheetData>" in raw else 0):
        first, last = int(m.group(2)), int(m.group(3) or m.group(2))
        rows.update(range(first, min(last, first + 1000) + 1))
    return rows


def _cells(values: tuple[Any, ...]) -> tuple[list[str], list[tuple[int, str]]]:
    """A row's cells as text, trailing empty cells dropped; and (index, why) for each cell that cannot be text
    exactly (its text is still kept, e.g. a date's ISO form, for a memo)."""
    cells: list[str] = []
    problems: list[tuple[int, str]] = []
    for i, v in enumerate(values):
        text, why = _text(v)
        if why:
            problems.append((i, f"{_column(i)}: {why}"))
        cells.append(text)
    while cells and not cells[-1]:
        cells.pop()
    return cells, problems


def _text(v: Any) -> tuple[str, str | None]:
    if v is None:
        return "", None
    if isinstance(v, str):
        return v.strip(), None
    if isinstance(v, bool):
        return str(v).upper(), f"{str(v).upper()} is a true/false cell, not a number or text"
    if isinstance(v, int):
        return str(v), None
    if isinstance(v, (datetime, date, time, timedelta)):
        when = v.isoformat() if not isinstance(v, timedelta) else str(v)
        if isinstance(v, datetime) and v.time() == time(0):
            when = v.date().isoformat()
        return when, f"{when} is a date or time where a number or text belongs (format the column as Number or Text)"
    if isinstance(v, Decimal):
        return format(v, "f"), None
    return _exact(v)


def _exact(v: Any) -> tuple[str, str | None]:
    """A float cell as the decimal it was typed as, when that is certain; else why not."""
    written = repr(v)
    if written in ("nan", "inf", "-inf"):
        return "", f"{written} is not a number"
    number = Decimal(written)
    if number == number.to_integral_value() and abs(number) >= 2**53:
        return "", (f"{written} is too large for a spreadsheet number to hold exactly; format the column as Text "
                    "and type the amount")
    digits = len(number.normalize().as_tuple().digits)
    if digits > _EXACT_DIGITS:
        return "", (f"{written} is not exact as a spreadsheet number ({digits} digits); round it, or format the "
                    "column as Text and type the amount")
    text = format(number.normalize(), "f")
    return text, None


def _column(index: int) -> str:
    """Spreadsheet column letters for a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return f"column {letters}"
