"""The job queues: InlineQueue runs registered jobs and refuses unknown ones; RqQueue needs a function per Job."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from adapters.queue.inline import InlineQueue, UnknownJob
from adapters.queue.rq_queue import RqQueue
from core.jobs import Job
from workers.registry import RQ_FUNCTIONS


async def test_inline_queue_runs_a_registered_job_with_its_arguments():
    ran: list[tuple[object, ...]] = []

    async def settle(*args: object) -> None:
        ran.append(args)

    queue = InlineQueue({Job.BULK_SETTLE: settle})
    queue.enqueue(Job.BULK_SETTLE, "bulk-a", 0, job_id="bulk-bulk-a-0")
    await queue.drain()
    assert ran == [("bulk-a", 0)]


async def test_inline_queue_raises_on_a_job_nobody_registered():
    """A job without a registered function is a wiring mistake: it is refused, never silently dropped."""
    queue = InlineQueue({Job.BULK_SETTLE: asyncio.sleep})
    with pytest.raises(UnknownJob, match="deliver_notifications"):
        queue.enqueue(Job.DELIVER_NOTIFICATIONS)


def test_every_job_has_a_worker_function_on_rq():
    assert set(RQ_FUNCTIONS) == set(Job)
    for path in RQ_FUNCTIONS.values():  # what a worker imports by name: each one exists
        module, _, name = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), path
    RqQueue("redis://127.0.0.1:6379/11", RQ_FUNCTIONS)  # constructing connects to nothing yet
    with pytest.raises(ValueError, match="reconcile"):
        RqQueue("redis://127.0.0.1:6379/11", {j: f for j, f in RQ_FUNCTIONS.items() if j is not Job.RECONCILE})
