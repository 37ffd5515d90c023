"""A JobQueue that runs jobs on the current event loop: the embedded default, with no Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("snowrail.queue")


class InlineQueue:
    def __init__(self, jobs: dict[str, Callable[..., Awaitable[object]]] | None = None) -> None:
        self.jobs = dict(jobs or {})
        self._tasks: set[asyncio.Task] = set()

    def enqueue(self, job: str, *args: object, job_id: str | None = None) -> None:
        fn = self.jobs.get(job)
        if fn is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(fn(*args))
            return
        task = loop.create_task(fn(*args))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("inline job failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
