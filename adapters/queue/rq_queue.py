"""A JobQueue on RQ: each Job goes to RQ by the dotted path of its function, so workers on other machines run it."""

from __future__ import annotations

from collections.abc import Mapping

from redis import Redis
from rq import Queue, Retry

from core.jobs import Job

# A bulk job keeps claiming chunks until none are left: on 5-second blocks a 10,000-row batch outlasts
# RQ's default 180 s, and a job stopped by the timeout would only be picked up again later.
JOB_TIMEOUT = 3600


class RqQueue:
    """`functions` maps every Job to the dotted path of the function a worker runs for it; the composition
    root passes the workers' own table (workers.registry), so nothing here names a module of theirs."""

    def __init__(self, redis_url: str, functions: Mapping[Job, str], name: str = "snowrail") -> None:
        missing = set(Job) - set(functions)
        if missing:
            raise ValueError(f"no worker function for {', '.join(sorted(map(str, missing)))}")
        self.functions = functions
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.connection)

    def enqueue(self, job: Job, *args: object, job_id: str | None = None) -> None:
        self.queue.enqueue(
            self.functions[job], *args, job_id=job_id, retry=Retry(max=5, interval=[1, 2, 5, 10, 30]), result_ttl=300,
            job_timeout=JOB_TIMEOUT,
        )
