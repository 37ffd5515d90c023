"""The background jobs core asks for by name (JobQueue.enqueue); where each one runs is the composition root's choice."""

from __future__ import annotations

from enum import Enum


class Job(str, Enum):
    """One member per job. The values are stable: RQ job records in Redis and logs name them."""

    DELIVER_NOTIFICATIONS = "deliver_notifications"  # no arguments: deliver the outbox
    RECONCILE = "reconcile"  # no arguments: settle signed payments the chain has not confirmed yet
    BULK_SETTLE = "bulk_settle"  # (batch id, chunk index): settle chunks of a bulk payout

    def __str__(self) -> str:
        return self.value
