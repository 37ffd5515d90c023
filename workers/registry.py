"""Which worker function runs each core Job on RQ: the table the composition root hands to adapters.queue.RqQueue."""

from __future__ import annotations

from core.jobs import Job

# Dotted paths, because RQ stores the name of the function in Redis and a worker elsewhere imports it.
RQ_FUNCTIONS: dict[Job, str] = {
    Job.DELIVER_NOTIFICATIONS: "workers.jobs.deliver_notifications",
    Job.RECONCILE: "workers.jobs.reconcile",
    Job.BULK_SETTLE: "workers.bulk.settle",
}
