"""A JobQueue on RQ: jobs are referred to by dotted path, so workers on other machines can run them."""

from __future__ import annotations

from redis import Redis
from rq import Queue, Retry

JOBS = {
    "deliver_notifications": "workers.jobs.deliver_notifications",
    "reconcile": "workers.jobs.reconcile",
    "bulk_settle": "workers.bulk.settle",
}


# A bulk job keeps claiming chunks until none are left: on 5-second blocks a 10,000-row batch outlasts
# RQ's default 180 s, and a job stopped by the timeout would only be picked up again later.
JOB_TIMEOUT = 3600


class RqQueue:
    def __init__(self, redis_url: str, name: str = "snowrail") -> None:
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.connection)

    def enqueue(self, job: str, *args: object, job_id: str | None = None) -> None:
        self.queue.enqueue(
            JOBS[job], *args, job_id=job_id, retry=Retry(max=5, interval=[1, 2, 5, 10, 30]), result_ttl=300,
            job_timeout=JOB_TIMEOUT,
        )
