"""What the payout file readers (CSV, JSON, lists, xlsx) hand the checker: records by line, and whole-file problems."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAX_ROWS = 10_000  # the chat limit (BULK_MAX_ROWS); `snowrail bulk run` passes its own

COLUMNS: dict[str, str] = {
    "recipient": "recipient", "address": "recipient", "to": "recipient", "receiver": "recipient",
    "amount": "amount", "value": "amount",
    "token": "token", "currency": "token", "asset": "token",
    "memo": "memo", "reference": "memo", "note": "memo",
    # Safe's CSV Airdrop (token_type,token_address,receiver,amount,id); its NFT "id" column is not read
    "token_type": "token_type", "token_address": "token_address",
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


class _CyclePause:
    """Pause the cycle collector while files are checked: rows are five small containers each, none of them
    cyclic, and at 100,000 rows the collector's repeated passes over them cost about a third of the time.
    Reference counting still frees everything. Checks run in threads: the first one in pauses, the last one
    out resumes (only if the collector was on before)."""

    def __init__(self) -> None:
        self.lock, self.inside, self.resume = threading.Lock(), 0, False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.inside == 0:
                self.resume = gc.isenabled()
                gc.disable()
            self.inside += 1
        try:
            yield
        finally:
            with self.lock:
                self.inside -= 1
                if self.inside == 0 and self.resume:
                    gc.enable()


cycle_collection_paused = _CyclePause()
