"""Bulk payout storage: batches with their rows and chunks, and upload counts (core.ports.UnitOfWork holds both)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.bulk.model import Batch, BatchRow, Chunk, RowStatus
from core.model import Spend


class BatchRepository(Protocol):
    async def add(self, batch: Batch, rows: list[BatchRow]) -> None:
        """Store a new batch and its rows; rows without a row id get the counter's next whole words, in file order
        (not checked against the chain here: core.bulk.rowids does that when the batch starts). Given ids are kept."""
    async def reserve_row_ids(self, count: int) -> int:
        """Take the next whole 256-row words of the counter for `count` rows; returns the first id. Two batches
        never get the same range; a rollback gives it back."""
    async def skip_row_ids(self, to_at_least: int) -> None:
        """Move the counter to `to_at_least` unless it is already there or past it (ids the chain has used)."""
    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None: ...
    async def save(self, batch: Batch) -> None: ...
    async def with_hash(self, content_hash: str) -> list[Batch]:
        """Earlier batches of the same file, newest first."""
    async def for_actor(self, actor_ref: str, limit: int) -> list[Batch]:
        """The batches this person uploaded, newest first, at most `limit` of them."""
    async def running(self) -> list[Batch]: ...
    async def committed(self, token: str) -> int:
        """Base units of `token` in rows of running batches that are not settled yet."""
    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        """Per batch and token, the rows (pending or paid) of this person's batches that were sent for approval
        or started at or after `since`, oldest first: what counts against their daily limit."""
    async def rows(self, batch_id: str, *, status: RowStatus | None = None, chunk: int | None = None,
                   seqs: tuple[int, int] | None = None) -> list[BatchRow]:
        """Rows in file order, optionally only those with this status, in this chunk, or with first <= seq < end."""
    async def save_rows(self, rows: list[BatchRow]) -> None:
        """Write status, chunk, tx_hash, error and row_id of these rows (one statement for all of them)."""
    async def add_chunks(self, chunks: list[Chunk]) -> None: ...
    async def chunks(self, batch_id: str) -> list[Chunk]: ...
    async def chunk(self, batch_id: str, index: int, *, for_update: bool = False) -> Chunk | None: ...
    async def claim_open_chunks(self, batch_id: str, most: int) -> list[Chunk]:
        """Up to `most` OPEN chunks, lowest index first, row-locked until the transaction ends; chunks locked
        by another transaction are skipped (FOR UPDATE SKIP LOCKED), so workers never wait on each other."""
    async def stale_chunks(self, batch_id: str, signed_before: datetime) -> list[Chunk]:
        """SIGNED chunks signed before this instant (their worker may have died)."""
    async def save_chunk(self, chunk: Chunk) -> None: ...


class UploadCounts(Protocol):
    """Files and rows each person uploaded per window (an hour, a UTC day), shared by every process."""

    async def add(self, actor_ref: str, window: str, start: datetime, *, files: int = 0, rows: int = 0) -> tuple[int, int]:
        """Add to this person's counts for the window (`window` names its length, "hour" or "day"; `start` is
        when it began) in one atomic statement, and return its (files, rows) after adding. Concurrent additions
        are serialised by the database, so two processes never both see the same total."""
