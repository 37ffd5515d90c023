"""The relayer's guard rails: failed relays bounded per note and per user, and, without a database, its record."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RelayLimits:
    """How many relays the pool may refuse per note and per user in `window`, before the relayer stops
    trying for them. A refusal costs the relayer a proof and a simulation; one that is mined costs it up
    to GAS_WITHDRAW gas, so this is what bounds its losses to anyone who makes withdrawals fail on purpose."""

    per_note: int = 2
    per_user: int = 5
    window: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.per_note < 1 or self.per_user < 1:
            raise ValueError("the failed-relay limits must be at least 1")

    def refusal(self, by_note: list[datetime], by_user: list[datetime], now: datetime) -> str | None:
        """The refusal if the note or the user has no failed relay left in the window (naming the limit and
        when it frees up), else None. `by_note`/`by_user`: failure times in the window, oldest first."""
        for times, limit, whose, per in ((by_note, self.per_note, "this note's withdrawals", "note"),
                                         (by_user, self.per_user, "your withdrawals", "user")):
            if len(times) >= limit:
                # The window slides: the limit frees up when enough of the oldest failures age out of it.
                free = times[len(times) - limit] + self.window
                minutes = max(1, -(-int((free - now).total_seconds()) // 60))
                return (f"I will not relay this withdrawal now: {whose} failed {_times(len(times))} in the last "
                        f"{_span(self.window)}, and the relayer allows at most {_times(limit)} per {per} per "
                        f"{_span(self.window)} (a failed withdrawal costs it gas). Try again after "
                        f"{free:%H:%M} UTC (in {minutes} minute{'s' if minutes != 1 else ''}). Nothing was "
                        "spent: your note is still good.")
        return None

    def tally(self, by_note: int, by_user: int) -> str:
        return (f"Failed withdrawals in the last {_span(self.window)}: this note {by_note} of {self.per_note}, "
                f"you {by_user} of {self.per_user}.")


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    if hours == 1:
        return "hour"
    return f"{hours:g} hours" if hours >= 1 else f"{window.total_seconds() / 60:g} minutes"


class _MemorySlot:
    def __init__(self, nonce: int) -> None:
        self.nonce = nonce

    async def keep(self, tx_hash: str, raw: bytes) -> None:
        return None


class MemoryRelayLog:
    """adapters.mixer.ports.RelayLog for one process without a database: the node's pending count is the nonce (the
    sender lock in pool.py serialises this process's sends), and attempts are kept in memory."""

    def __init__(self) -> None:
        self._attempts: dict[int, tuple[str, str, datetime]] = {}  # id -> (note id, user ref, at)
        self._ids = itertools.count(1)

    @asynccontextmanager
    async def sending(self, chain_id: int, relayer: str, floor: int) -> AsyncIterator[_MemorySlot]:
        yield _MemorySlot(floor)

    async def attempt(self, note_id: str, user_ref: str, at: datetime) -> int:
        self._attempts = {k: v for k, v in self._attempts.items() if v[2] >= at - timedelta(days=1)}
        attempt_id = next(self._ids)
        self._attempts[attempt_id] = (note_id, user_ref, at)
        return attempt_id

    async def settle(self, attempt_id: int, reason: str | None, tx_hash: str | None = None) -> None:
        if reason is None:
            self._attempts.pop(attempt_id, None)

    async def failures(self, note_id: str, user_ref: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
        recent = [v for v in self._attempts.values() if v[2] >= since]
        return (sorted(at for n, _, at in recent if n == note_id),
                sorted(at for _, u, at in recent if u == user_ref))
