"""What the payout file readers (CSV, JSON) hand the checker: records by physical line, and whole-file problems."""

from __future__ import annotations

from typing import Any

MAX_ROWS = 10_000

COLUMNS: dict[str, str] = {
    "recipient": "recipient", "address": "recipient", "to": "recipient",
    "amount": "amount", "value": "amount",
    "token": "token", "currency": "token", "asset": "token",
    "memo": "memo", "reference": "memo", "note": "memo",
}


class FileProblem(Exception):
    """The whole file is refused; reported at line 0."""


class Record:
    """One data row before checking: its physical line, and the cells found for each known column."""

    __slots__ = ("line", "cells", "problem")

    def __init__(self, line: int, cells: dict[str, Any], problem: str | None = None) -> None:
        self.line, self.cells, self.problem = line, cells, problem


def shown(text: str, most: int = 40) -> str:
    """Text of the file safe to quote in a reply: at most `most` characters, and no lone surrogate (a JSON
    escape like \\ud800 decodes to one, and no platform can encode it)."""
    cut = text if len(text) <= most else text[:most] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")
