"""Background loops the long-running modes share: notification sweeps and payment reconciliation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("snowrail.background")

RECONCILE_SECONDS = 15.0  # signed payments without a receipt are looked at this often (stuck ones replaced)


async def every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `job` now and then every `seconds`, forever; a failure is logged and the loop goes on."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(seconds)
