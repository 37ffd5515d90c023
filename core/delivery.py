"""Sending through a rate-limited platform: wait out a 429's retry-after and try again, within bounds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("snowrail.delivery")

T = TypeVar("T")

ATTEMPTS = 3
LONGEST = 10.0  # seconds; a longer wait is handed back to the caller (a worker retries the delivery later)


class RetryAfter(Exception):
    """The platform refused a call for now and asked us to wait `seconds` (HTTP 429). Each chat adapter raises it
    from its library's own rate-limit error, so the waiting is written once, here."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited: retry after {seconds:.2f}s")
        self.seconds = max(0.0, seconds)


async def patiently(
    send: Callable[[], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
    longest: float = LONGEST,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`send()`, again after each RetryAfter it raises: a 429 is waited out, never dropped. The RetryAfter is
    raised on when it asks for more than `longest` seconds or the last of `attempts` was refused too, so the
    caller can hand the wait on (Delivery.retry_after) instead of holding a worker."""
    for attempt in range(1, attempts + 1):
        try:
            return await send()
        except RetryAfter as e:
            if attempt == attempts or e.seconds > longest:
                raise
            log.info("rate limited; trying again in %.2fs (attempt %d of %d)", e.seconds, attempt + 1, attempts)
            await sleep(e.seconds)
    raise ValueError(f"attempts must be at least 1, not {attempts}")
