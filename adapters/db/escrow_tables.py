"""Tables of escrowed intents (core.escrow) and the chain watchers' cursors, declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text
from sqlmodel import Field

from adapters.db.tables import Table, _utc
from adapters.db.types import Uint256


class EscrowRow(Table, table=True):
    """An intent a member funds from their own wallet; the contract holds the money under `intent_hash`.
    The indexes serve the watcher's three questions each tick: due by time, ready at a price, expired."""

    __tablename__ = "escrows"
    __table_args__ = (
        Index("ix_escrows_status_due_at", "status", "due_at"),
        Index("ix_escrows_status_pair_threshold", "status", "pair", "threshold"),
        Index("ix_escrows_status_expires_at", "status", "expires_at"),
        Index("ix_escrows_actor_ref_created_at", "actor_ref", "created_at"),
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    key: str = Field(sa_type=String(200), unique=True)
    actor_ref: str = Field(sa_type=String(128))
    recipient: str = Field(sa_type=String(64))
    recipient_ref: str | None = Field(default=None, sa_type=String(128), index=True)
    token: str = Field(sa_type=String(32))
    amount: int = Field(sa_type=Uint256)
    salt: str = Field(sa_type=String(66))
    intent_hash: str = Field(sa_type=String(66), unique=True)
    condition: str = Field(sa_type=String(16))
    status: str = Field(sa_type=String(16))
    memo: str | None = Field(default=None, sa_type=Text)
    due_at: datetime | None = _utc(nullable=True)
    pair: str | None = Field(default=None, sa_type=String(32))
    above: bool | None = Field(default=None, sa_type=Boolean)
    threshold: int | None = Field(default=None, sa_type=Uint256)
    price_decimals: int | None = Field(default=None, sa_type=Integer)
    funded: int = Field(default=0, sa_type=Uint256)
    funder: str | None = Field(default=None, sa_type=String(64))
    nonce: int | None = Field(default=None, sa_type=BigInteger)
    raw_tx: bytes | None = Field(default=None, sa_type=LargeBinary)
    tx_hash: str | None = Field(default=None, sa_type=String(66))
    error: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)
    expires_at: datetime = _utc()
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    submitted_at: datetime | None = _utc(nullable=True)
    settled_at: datetime | None = _utc(nullable=True)


class ChainCursorRow(Table, table=True):
    """The last block a chain watcher has fully read (e.g. "escrow"): a restart resumes there."""

    __tablename__ = "chain_cursors"

    name: str = Field(sa_type=String(64), primary_key=True)
    block: int = Field(sa_type=BigInteger)
