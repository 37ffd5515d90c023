"""What the mixer keeps outside itself, shared by every process on the database: its deposit log and relay log.

adapters/db implements both (SqlDepositLog, SqlRelayLog) without importing this package: a stored deposit is
a plain tuple in PoolDeposit's field order, and the relay log is matched by its shape."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import NamedTuple, Protocol

# (commitment, leaf index, timestamp, block number, transaction hash): one Deposit event as stored.
DepositRow = tuple[int, int, int, int, str]


class PoolDeposit(NamedTuple):
    """One Deposit event of a pool: public chain data (the commitment, never the note behind it)."""

    commitment: int
    leaf_index: int
    timestamp: int
    block_number: int
    tx_hash: str


class DepositLog(Protocol):
    """The deposits of each pool synced so far, and the last block they cover, kept between runs so a
    restart reads only new blocks. A pool is (chain id, address); each call is its own transaction."""

    async def load(self, chain_id: int, pool: str) -> tuple[Sequence[DepositRow], int] | None:
        """The stored deposits by leaf index and the last synced block, or None if nothing is stored."""

    async def append(self, chain_id: int, pool: str, deposits: Sequence[DepositRow], synced_block: int) -> None:
        """Adds (or, after a shallow reorg, overwrites by leaf index) `deposits` and moves the synced block."""

    async def replace(self, chain_id: int, pool: str, deposits: Sequence[DepositRow], synced_block: int) -> None:
        """Forgets everything stored for the pool and stores exactly `deposits` (after a full rebuild)."""


class RelaySlot(Protocol):
    """One relayer transaction being sent: its reserved nonce, inside a database transaction."""

    nonce: int

    async def keep(self, tx_hash: str, raw: bytes) -> None:
        """Store the signed transaction (in the slot's database transaction) before it is broadcast."""


class RelayLog(Protocol):
    """The mixer relayer's record, shared by every process on the database: its nonces, the transactions
    it signs, and the relays that failed, by note and by user."""

    def sending(self, chain_id: int, relayer: str, floor: int) -> AbstractAsyncContextManager[RelaySlot]:
        """Reserve the relayer's next nonce, max(stored next, floor), as the executor's are reserved
        (core.ports.NonceRepository); concurrent reservations wait. Leaving the block normally commits the
        nonce and the kept transaction; leaving it by an exception rolls both back, so a refused broadcast
        leaves no gap in the relayer's nonces."""

    async def attempt(self, note_id: str, user_ref: str, at: datetime) -> int:
        """Record a relay about to be tried, counted as failed until settled, so that relays running at once
        in any process count against the limits at once. `note_id` is the note's nullifier hash (public once
        the note is spent), never the note. Returns the attempt's id."""

    async def settle(self, attempt_id: int, reason: str | None, tx_hash: str | None = None) -> None:
        """How the attempt ended. `reason` None (relayed, or stopped for a reason that is neither the note's
        nor the user's) forgets it; otherwise it stays a failed relay with the pool's reason and, if a mined
        transaction reverted, its hash. Attempts older than a day are forgotten."""

    async def failures(self, note_id: str, user_ref: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
        """The times of the failed (or unsettled) relays since `since`, oldest first: (of this note, of this
        user)."""
