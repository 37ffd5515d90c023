"""A JobQueue that runs jobs on the current event loop: the embedded default, with no Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from core.jobs import Job

log = logging.getLogger("snowrail.queue")

InlineJob = Callable[..., Awaitable[object]]


class UnknownJob(LookupError):
    """A job nobody registered to run inline: a wiring mistake, not something to drop silently."""


class InlineQueue:
    """Runs each Job with the coroutine function `jobs` maps it to (the composition root fills that registry);
    the caller's job_id is not needed: inline jobs start at once, so there is no queue to deduplicate."""

    def __init__(self, jobs: Mapping[Job, InlineJob]) -> None:
        self.jobs = jobs
        self._tasks: set[asyncio.Task[object]] = set()

    def enqueue(self, job: Job, *args: object, job_id: str | None = None) -> None:
        fn = self.jobs.get(job)
        if fn is None:
            raise UnknownJob(f"no inline job is registered for {job!s}")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(_call(fn, args))
            return
        task = loop.create_task(_call(fn, args))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("inline job failed", exc_info=task.exception())

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def _call(fn: InlineJob, args: tuple[object, ...]) -> object:
    return await fn(*args)
