"""Telegram's send limits for one sender: at most 1 message a second per chat, about 30 a second overall."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Awaitable, Callable


class SendLimiter:
    """Hands out send slots: a slot is at least `per_chat` after the chat's previous one and at least
    1/`overall` away from every other slot. Callers sleep until their slot; nothing is dropped."""

    def __init__(
        self,
        *,
        per_chat: float = 1.0,
        overall: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_chat, self.spacing = per_chat, 1.0 / overall
        self.clock, self.sleep = clock, sleep
        self._chat_next: dict[int, float] = {}
        self._slots: list[float] = []  # reserved send times, sorted
        self._paused_until = 0.0

    def reserve(self, chat_id: int) -> float:
        """The time of this chat's next slot (and take it)."""
        now = self.clock()
        self._slots = self._slots[bisect.bisect_left(self._slots, now - self.spacing) :]
        t = max(now, self._chat_next.get(chat_id, 0.0), self._paused_until)
        i = bisect.bisect_left(self._slots, t - self.spacing)
        while i < len(self._slots) and self._slots[i] < t + self.spacing:
            t = max(t, self._slots[i] + self.spacing)
            i += 1
        bisect.insort(self._slots, t)
        self._chat_next[chat_id] = t + self.per_chat
        if len(self._chat_next) > 50_000:  # forget chats whose next slot is long past
            self._chat_next = {c: v for c, v in self._chat_next.items() if v > now}
        return t

    def push_back(self, chat_id: int, seconds: float) -> None:
        """After a 429: nothing goes to this chat, nor anywhere, for `seconds`."""
        until = self.clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
        self._paused_until = max(self._paused_until, until)

    async def wait(self, chat_id: int) -> None:
        delay = self.reserve(chat_id) - self.clock()
        if delay > 0:
            await self.sleep(delay)
