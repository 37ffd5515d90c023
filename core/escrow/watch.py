"""The escrow watcher: funding events attributed to intents, conditions checked, releases, refunds, expiries."""

from __future__ import annotations

from core.services import Services


async def tick(s: Services) -> int:
    """One pass of the due-time loop for escrowed intents; returns how many intents changed."""
    return 0
