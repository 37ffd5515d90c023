"""Operator-tunable numbers for bulk payouts: chunk size, parallel jobs, leases, progress pace, fee estimate, upload limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class BulkPolicy:
    chunk_size: int = 160  # payouts per executeBatch: the root sets it from Chain.batch_capacity
    parallel_jobs: int = 4  # jobs enqueued per batch; each keeps claiming chunks until none are left
    # Filling blocks: a block takes only transactions already waiting when it is made, so each job keeps up to
    # `depth` chunks sent and not yet recorded (chunks are ~1/8 block: 2 workers hold ~2.5 blocks' worth), and
    # its lanes send the next ones while the receipts of earlier ones are awaited and recorded.
    # One chunk per claim: anvil was seen to lose the second of two same-sender transactions sent in one
    # JSON-RPC batch (re-sent only after a lease); one transaction per broadcast never was.
    in_flight: int = 1  # chunks one lane claims, signs (consecutive nonces) and sends in one JSON-RPC batch
    lanes: int = 6  # claim-sign-send loops running side by side in one job
    depth: int = 10  # chunks one job keeps sent but not yet recorded
    # A SIGNED chunk untouched this long is taken over by anyone: recorded if mined, replaced with the same nonce
    # and a higher fee if it offers less than the chain's base fee (stuck), else sent again as it is.
    lease: timedelta = timedelta(seconds=2)
    max_attempts: int = 3  # signings of one chunk that ran out of gas before its rows are failed
    receipt_wait: float = 2.0  # seconds to wait for receipts before looking at other chunks again
    idle_limit: float = 120.0  # a job gives up (and is retried by RQ) after this long without progress
    outage_limit: float = 600.0  # how long a job waits out an unavailable node or database before failing
    progress_every: timedelta = timedelta(seconds=2)
    gas_per_payout: int = 37_000  # measured: native payout to a fresh account inside executeBatch (~36.8k; ERC-20 ~28k)
    gas_per_chunk: int = 60_000
    # Per person, counted in the database so every process shares them (0: no limit). Every file counts
    # against the hour; the rows of every file read count against the UTC day: reading is the work.
    uploads_per_hour: int = 20
    max_rows: int = 10_000  # rows per file sent in chat (BULK_MAX_ROWS); `snowrail bulk run` has no such limit
    rows_per_day: int = 50_000
