"""Background loops the long-running modes share: notification sweeps and payment reconciliation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from adapters.queue.inline import InlineQueue
from core.ports import JobQueue

log = logging.getLogger("snowrail.background")

RECONCILE_SECONDS = 15.0  # signed payments without a receipt are looked at this often (stuck ones replaced)
SWEEP_SECONDS = 5.0  # how often a bot without workers looks for undelivered notifications


async def every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `job` now and then every `seconds`, forever; a failure is logged and the loop goes on."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(seconds)


def start_background(
    queue: JobQueue, deliver: Callable[[], Awaitable[int]], reconcile: Callable[[], Awaitable[object]]
) -> list[asyncio.Task]:
    """The loops of a running bot (Telegram or Discord), started on the current loop; the caller cancels them.

    The bootstrap picked the queue (bot.bootstrap.build_queue); this follows its choice instead of guessing
    from the settings. When jobs run inline (no Redis, or a chain or database that a worker cannot share, such
    as REDIS_URL without DATABASE_URL), no worker exists to deliver notifications, so this process delivers
    its own platform's: on every `deliver_notifications` job and in a sweep. With RQ, workers deliver."""
    tasks = []
    if isinstance(queue, InlineQueue):
        lock = asyncio.Lock()  # one sweep at a time: a job and the timer may fire together

        async def deliver_notifications(*_args: object) -> int:
            async with lock:
                return await deliver()

        queue.jobs["deliver_notifications"] = deliver_notifications
        tasks.append(asyncio.create_task(every(SWEEP_SECONDS, deliver_notifications, "notification sweep")))
    tasks.append(asyncio.create_task(every(RECONCILE_SECONDS, reconcile, "reconcile")))
    return tasks
