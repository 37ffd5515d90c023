"""Operator-tunable numbers for bulk payouts: chunk size, parallel jobs, leases, progress pace, fee estimate, upload limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class BulkPolicy:
    chunk_size: int = 160  # payouts per executeBatch: the root sets it from Chain.batch_capacity
    parallel_jobs: int = 4  # jobs enqueued per batch; each keeps claiming chunks until none are left
    in_flight: int = 4  # chunks one lane signs (consecutive nonces) and sends in one JSON-RPC batch
    lanes: int = 3  # claim-sign-send-record loops running side by side in one job
    lease: timedelta = timedelta(seconds=4)  # a SIGNED chunk untouched this long is re-sent by anyone
    receipt_wait: float = 4.0  # seconds to wait for receipts before looking at other chunks again
    idle_limit: float = 120.0  # a job gives up (and is retried by RQ) after this long without progress
    outage_limit: float = 600.0  # how long a job waits out an unavailable node or database before failing
    progress_every: timedelta = timedelta(seconds=2)
    gas_per_payout: int = 62_000  # measured: native payout to a fresh account inside executeBatch
    gas_per_chunk: int = 60_000
    # Per person, counted in the database so every process shares them (0: no limit). Every file counts
    # against the hour; the rows of every file read count against the UTC day: reading is the work.
    uploads_per_hour: int = 20
    rows_per_day: int = 50_000
