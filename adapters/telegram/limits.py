"""Telegram's send limits for one sender: at most 1 message a second per chat, about 30 a second overall."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class SendLimiter:
    """Hands out send slots: a slot is at least `per_chat` after the chat's previous one and at least
    1/`overall` after anyone's previous one. Callers sleep until their slot; nothing is dropped."""

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
        self._next = 0.0

    def reserve(self, chat_id: int) -> float:
        """The time of this chat's next slot (and take it)."""
        now = self.clock()
        slot = max(now, self._chat_next.get(chat_id, 0.0), self._next)
        self._next = slot + self.spacing
        self._chat_next[chat_id] = slot + self.per_chat
        if len(self._chat_next) > 50_000:  # forget chats whose slot is long past
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        return slot

    def push_back(self, chat_id: int, seconds: float) -> None:
        """After a 429: nothing goes to this chat, nor anywhere, for `seconds`."""
        until = self.clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
        self._next = max(self._next, until)

    async def wait(self, chat_id: int) -> None:
        delay = self.reserve(chat_id) - self.clock()
        if delay > 0:
            await self.sleep(delay)
