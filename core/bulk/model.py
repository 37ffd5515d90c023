"""Batches of payouts from one file: the batch, its rows, the on-chain chunks they are settled in, and their states."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.model import IllegalTransition


class BatchStatus(str, enum.Enum):
    PREVIEW = "preview"  # uploaded and checked; waiting for Execute or Cancel
    AWAITING = "awaiting"  # (approval) Execute was pressed; it starts when enough approvers approve (or is cancelled)
    RUNNING = "running"  # confirmed: workers are settling its chunks
    DONE = "done"  # every row is paid, failed or cancelled
    CANCELLED = "cancelled"  # cancelled before anything was sent


class RowStatus(str, enum.Enum):
    PENDING = "pending"  # not settled yet (maybe inside a signed chunk)
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ChunkStatus(str, enum.Enum):
    OPEN = "open"  # rows assigned, nothing signed: any worker may claim it
    SIGNED = "signed"  # nonce reserved and signed transaction stored (maybe broadcast)
    DONE = "done"  # receipt recorded, rows settled
    CANCELLED = "cancelled"  # cancelled while still open


_BATCH_MOVES: dict[BatchStatus, set[BatchStatus]] = {
    BatchStatus.PREVIEW: {BatchStatus.RUNNING, BatchStatus.AWAITING, BatchStatus.CANCELLED},
    BatchStatus.AWAITING: {BatchStatus.RUNNING, BatchStatus.CANCELLED},
    BatchStatus.RUNNING: {BatchStatus.DONE},
    BatchStatus.DONE: {BatchStatus.RUNNING},  # /bulk retry re-runs the failed rows
    BatchStatus.CANCELLED: set(),
}


@dataclass
class Batch:
    """One uploaded payout file. Amount totals are base units per token symbol."""

    id: str
    key: str
    actor_ref: str
    filename: str
    content_hash: str
    format: str
    rows: int
    totals: dict[str, int]
    created_at: datetime
    updated_at: datetime
    status: BatchStatus = BatchStatus.PREVIEW
    duplicates: int = 0  # recipients (with token) appearing more than once
    repeat_of: str | None = None  # an earlier batch of the same file (same content hash)
    warned_at: datetime | None = None  # when Execute was answered with the duplicate/repeat warning
    round: int = 0  # 0 for the first run, +1 per /bulk retry
    paid: int = 0
    failed: int = 0
    cancelled: int = 0
    fees: int = 0  # native base units spent on gas
    gas_used: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress_at: datetime | None = None  # when the progress message was last updated
    progress_seq: int = 0

    def move(self, to: BatchStatus, now: datetime) -> None:
        if to not in _BATCH_MOVES[self.status]:
            raise IllegalTransition(f"batch {self.id} is {self.status.value} and cannot become {to.value}")
        self.status = to
        self.updated_at = now

    @property
    def settled(self) -> int:
        return self.paid + self.failed + self.cancelled

    @property
    def needs_warning(self) -> bool:
        return bool(self.duplicates or self.repeat_of)


@dataclass
class BatchRow:
    """One valid row of the file; `seq` is its position among the valid rows, `line` its physical line."""

    batch_id: str
    seq: int
    line: int
    recipient: str
    token: str
    amount: int
    intent_hash: str
    memo: str | None = None
    status: RowStatus = RowStatus.PENDING
    chunk: int | None = None
    tx_hash: str | None = None
    error: str | None = None
    # Its bit in the contract's paid-rows bitmap, given when the batch is stored (a range per batch, never
    # reused); executeBatch pays each row id at most once, so re-signing or retrying a row cannot pay it twice.
    row_id: int | None = None


@dataclass
class Chunk:
    """The rows settled by one executeBatch transaction. `index` is unique within its batch across retries."""

    batch_id: str
    index: int
    round: int
    size: int
    status: ChunkStatus = ChunkStatus.OPEN
    nonce: int | None = None
    raw_tx: bytes | None = None
    tx_hash: str | None = None
    signed_at: datetime | None = None
    fee: int | None = None
    gas_used: int | None = None
    block_number: int | None = None
    error: str | None = None
    attempts: int = 0  # signing attempts (re-signed only when its nonce was taken by another transaction)
    # The hash of every transaction signed for it, oldest first (tx_hash is the newest): whichever of them is mined,
    # the rows it pays are this batch's payments; a row paid by any other transaction was not paid by us.
    signed_hashes: tuple[str, ...] = ()

    def signed(self, tx_hash: str) -> None:
        """Record a newly signed transaction of this chunk (the first signing, a fee bump, a re-signing)."""
        self.tx_hash = tx_hash
        self.signed_hashes = (*self.signed_hashes, tx_hash)
