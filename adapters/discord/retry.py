"""A 429 that discord.py hands back instead of waiting out (no `Via` header): wait `retry_after`, try again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord

log = logging.getLogger("snowrail.discord")

T = TypeVar("T")

ATTEMPTS = 3
MOST = 10.0  # seconds; a longer wait is handed back to the caller (a worker retries the job later)


async def patient(call: Callable[[], Awaitable[T]], *, attempts: int = ATTEMPTS, most: float = MOST) -> T:
    """discord.py itself sleeps through a 429 that carries Discord's `Via` header; one without it (a proxy, a
    Cloudflare-style answer) raises. Either way a 429 is retried after its retry_after, never dropped."""
    for attempt in range(attempts):
        try:
            return await call()
        except discord.HTTPException as e:
            wait = retry_after(e)
            if e.status != 429 or attempt == attempts - 1 or wait > most:
                raise
            log.warning("429 from Discord; retrying in %.2fs", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def retry_after(e: discord.HTTPException) -> float:
    headers = getattr(e.response, "headers", None) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        try:
            return max(0.0, float(headers[name]))
        except (KeyError, TypeError, ValueError):
            continue
    return 1.0
