"""The due-time loop of schedules: every occurrence that is due is paid exactly once (or reported missed)."""

from __future__ import annotations

from core.services import Services


async def tick(s: Services) -> int:
    """One pass of the due-time loop for schedules; returns how many occurrences it handled."""
    return 0
