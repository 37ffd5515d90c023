"""Tables of bulk payouts (batches, their rows, their on-chain chunks), declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, func
from sqlmodel import Field

from adapters.db.tables import Table, _utc
from adapters.db.types import Uint256, UtcDateTime


class BulkBatchRow(Table, table=True):
    """One uploaded payout file waiting for Execute, running, done or cancelled."""

    __tablename__ = "bulk_batches"
    __table_args__ = (
        Index("ix_bulk_batches_actor_ref_created_at", "actor_ref", "created_at"),
        Index("ix_bulk_batches_started_at", "started_at"),  # the ledger: executed batches, newest first
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    key: str = Field(sa_type=String(200), unique=True)
    actor_ref: str = Field(sa_type=String(128))
    filename: str = Field(sa_type=String(200))
    content_hash: str = Field(sa_type=String(64), index=True)
    format: str = Field(sa_type=String(8))
    rows: int = Field(sa_type=Integer)
    totals: str = Field(sa_type=Text)  # JSON {symbol: base units as a decimal string}
    status: str = Field(sa_type=String(16), index=True)
    duplicates: int = Field(default=0, sa_type=Integer)
    repeat_of: str | None = Field(default=None, sa_type=String(64))
    warned_at: datetime | None = _utc(nullable=True)
    round: int = Field(default=0, sa_type=Integer)
    paid: int = Field(default=0, sa_type=Integer)
    failed: int = Field(default=0, sa_type=Integer)
    cancelled: int = Field(default=0, sa_type=Integer)
    fees: int = Field(default=0, sa_type=Uint256)
    gas_used: int = Field(default=0, sa_type=BigInteger)
    progress_seq: int = Field(default=0, sa_type=Integer)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    started_at: datetime | None = _utc(nullable=True)
    finished_at: datetime | None = _utc(nullable=True)
    progress_at: datetime | None = _utc(nullable=True)


class BulkRowRow(Table, table=True):
    """One valid row of a batch; `intent_hash` is what the contract pays at most once."""

    __tablename__ = "bulk_rows"
    __table_args__ = (Index("ix_bulk_rows_batch_id_chunk", "batch_id", "chunk"),)

    batch_id: str = Field(sa_type=String(64), sa_column_args=[ForeignKey("bulk_batches.id")], primary_key=True)
    seq: int = Field(sa_type=Integer, primary_key=True)
    line: int = Field(sa_type=Integer)
    recipient: str = Field(sa_type=String(64))
    token: str = Field(sa_type=String(32))
    amount: int = Field(sa_type=Uint256)
    intent_hash: str = Field(sa_type=String(66), unique=True)
    # The row's bit in Settlement.paidRows (from bulk_row_ids, never reused): what executeBatch pays at most once.
    row_id: int | None = Field(default=None, sa_type=BigInteger, index=True, unique=True)
    memo: str | None = Field(default=None, sa_type=Text)
    status: str = Field(sa_type=String(16))
    chunk: int | None = Field(default=None, sa_type=Integer)
    tx_hash: str | None = Field(default=None, sa_type=String(66))
    error: str | None = Field(default=None, sa_type=Text)


class BulkRowIdRow(Table, table=True):
    """The next free bulk row id (one counter row, moved under its row lock): ranges are handed out once."""

    __tablename__ = "bulk_row_ids"

    name: str = Field(sa_type=String(32), primary_key=True)
    next_id: int = Field(sa_type=BigInteger)


# /history: the rows paid to a member's wallet, whatever the case the file wrote the address in.
Index("ix_bulk_rows_recipient_lower", func.lower(BulkRowRow.__table__.c.recipient))


class BulkChunkRow(Table, table=True):
    """The rows one executeBatch transaction settles; the signed bytes are stored before they are sent."""

    __tablename__ = "bulk_chunks"
    __table_args__ = (Index("ix_bulk_chunks_batch_id_status", "batch_id", "status"),)

    batch_id: str = Field(sa_type=String(64), sa_column_args=[ForeignKey("bulk_batches.id")], primary_key=True)
    index: int = Field(sa_type=Integer, primary_key=True)
    round: int = Field(sa_type=Integer)
    size: int = Field(sa_type=Integer)
    status: str = Field(sa_type=String(16))
    nonce: int | None = Field(default=None, sa_type=BigInteger)
    raw_tx: bytes | None = Field(default=None, sa_type=LargeBinary)
    tx_hash: str | None = Field(default=None, sa_type=String(66))
    signed_at: datetime | None = _utc(nullable=True)
    fee: int | None = Field(default=None, sa_type=Uint256)
    gas_used: int | None = Field(default=None, sa_type=BigInteger)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, sa_type=Text)
    attempts: int = Field(default=0, sa_type=Integer)
    # Every transaction ever signed for it (fee bumps, re-signings): a row the contract says one of these paid
    # is this batch's payment; any other payer means its row id was used by someone else (0021).
    signed_hashes: str | None = Field(default=None, sa_type=Text)


class BulkUploadCountRow(Table, table=True):
    """Files and rows one person uploaded in one window (the hour or the UTC day starting at `started_at`)."""

    __tablename__ = "bulk_upload_counts"

    actor_ref: str = Field(sa_type=String(128), primary_key=True)
    period: str = Field(sa_type=String(8), primary_key=True)  # "hour" | "day"
    started_at: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    files: int = Field(default=0, sa_type=Integer)
    rows: int = Field(default=0, sa_type=Integer)
