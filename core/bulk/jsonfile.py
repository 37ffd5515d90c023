"""JSON payout files -> records: a streaming reader that keeps each payment's physical line and bounds nesting."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from core.bulk.records import COLUMNS, MAX_ROWS, FileProblem, Record, shown

# A payment file needs three levels ({"payments": [{...}]}); a few more still get a per-row error ("must be
# text"). The bound is checked before decoding because json's C scanner recurses once per level: a file of
# 100,000 "[" would otherwise end in RecursionError rather than in an answer.
MAX_DEPTH = 8


class JsonNumber(str):
    """A JSON number kept as the text written in the file, so no float ever touches it."""


_DECODER = json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=JsonNumber)
_WS = " \t\r\n"
# A whole string (so brackets inside it are not counted), a bracket, or the quote of an unterminated string.
_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}"]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")
_EXAMPLE = '[{"recipient": "0x…", "amount": "25"}]'


def json_records(text: str, max_rows: int = MAX_ROWS) -> Iterator[Record]:
    """The payments of `[...]` or `{"payments": [...], ...}`, each with the line it starts on."""
    _check_nesting(text)
    pos = _skip(text, 0)
    lines = _LineCounter(text)
    in_object = text[pos] == "{"
    if in_object:
        pos = _find_payments(text, pos, lines)
    elif text[pos] != "[":
        raise FileProblem(f"not JSON: expected an array of payments or {{\"payments\": [...]}}, like {_EXAMPLE}")
    pos = _skip(text, pos + 1)
    count = 0
    if text[pos:pos + 1] != "]":
        while True:
            line = lines.at(pos)
            value, pos = _decode(text, pos)
            count += 1
            yield _record(value, line) if count <= max_rows + 1 else Record(line, {})
            pos = _skip(text, pos)
            ch = text[pos:pos + 1]
            if ch == "]":
                break
            if ch != ",":
                raise FileProblem(f"not JSON: expected , or ] after the payment on line {line}, at line {lines.at(pos)}")
            pos = _skip(text, pos + 1)
    if in_object:
        pos = _rest_of_object(text, pos + 1, lines)
    if text[pos + 1:].strip():
        closing = "} of the object" if in_object else "] of the array"
        raise FileProblem(f"not JSON: unexpected text after the closing {closing}, at line {lines.at(pos + 1)}")


def _check_nesting(text: str) -> None:
    depth = 0
    for m in _NESTING.finditer(text):
        token = m.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                raise FileProblem(
                    f"not JSON payments: brackets nested more than {MAX_DEPTH} levels deep (line {line}); "
                    f"a payment file is an array of flat objects, like {_EXAMPLE}"
                )
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)
        elif token == '"':
            return  # an unterminated string: the decoder reports where


def _decode(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as e:
        raise FileProblem(f"not JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:  # _check_nesting makes this unreachable; kept so no input can raise it
        raise FileProblem(f"not JSON payments: nested too deep; a payment file is an array of flat objects, like {_EXAMPLE}") from None


def _key(text: str, pos: int, lines: _LineCounter) -> tuple[str, int]:
    """An object key and the position of its value."""
    key, pos = _decode(text, pos)
    pos = _skip(text, pos)
    if text[pos:pos + 1] != ":":
        raise FileProblem(f"not JSON: expected : after “{shown(key)}” at line {lines.at(pos)}")
    return key, _skip(text, pos + 1)


def _find_payments(text: str, pos: int, lines: _LineCounter) -> int:
    """Walk the top-level object's keys to the position of the "payments" array."""
    pos = _skip(text, pos + 1)
    while text[pos:pos + 1] == '"':
        key, pos = _key(text, pos, lines)
        if key.lower() == "payments":
            if text[pos:pos + 1] != "[":
                raise FileProblem("not JSON payments: \"payments\" must be an array of objects")
            return pos
        _, pos = _decode(text, pos)
        pos = _skip(text, pos)
        if text[pos:pos + 1] != ",":
            break
        pos = _skip(text, pos + 1)
    raise FileProblem("not JSON payments: the object has no \"payments\" array; send [...] or {\"payments\": [...]}")


def _rest_of_object(text: str, pos: int, lines: _LineCounter) -> int:
    """After the payments array: the object's other keys, up to its closing brace; returns the brace's position."""
    pos = _skip(text, pos)
    while text[pos:pos + 1] == ",":
        pos = _skip(text, pos + 1)
        if text[pos:pos + 1] != '"':
            break
        key, pos = _key(text, pos, lines)
        if key.lower() == "payments":
            raise FileProblem(f"not JSON payments: a second \"payments\" key at line {lines.at(pos)}; keep one array")
        _, pos = _decode(text, pos)
        pos = _skip(text, pos)
    if text[pos:pos + 1] != "}":
        raise FileProblem(f"not JSON: expected , or }} after the payments array, at line {lines.at(pos)}")
    return pos


def _record(value: Any, line: int) -> Record:
    if not isinstance(value, dict):
        return Record(line, {}, f"row: expected an object with recipient and amount, got {_kind(value)}")
    cells: dict[str, Any] = {}
    for key, cell in value.items():
        name = COLUMNS.get(key.strip().lower())
        if name is None:
            continue
        if name in cells:
            return Record(line, {}, f"row: two keys name the {name}; keep one")
        if isinstance(cell, str) and _SURROGATE.search(cell):
            return Record(line, {}, f"{name}: “{shown(cell)}” holds an unpaired \\u escape (a broken character); "
                                    "write the text itself, as UTF-8")
        cells[name] = cell
    return Record(line, cells)


def _kind(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "true or false"
    return "null" if value is None else type(value).__name__


def _skip(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _WS:
        pos += 1
    if pos >= n:
        raise FileProblem("not JSON: the file ends before the array is closed")
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
