"""Tables of the mixer: its Deposit-event cache (public chain data only) and its relayer's transactions and failed
relays, declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlmodel import Field

from adapters.db.tables import Table, _utc


class MixerDepositRow(Table, table=True):
    """One Deposit event of a pool: the leaf it filled and its commitment. Never a nullifier or a secret."""

    __tablename__ = "mixer_deposits"

    chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    pool: str = Field(sa_type=String(42), primary_key=True)  # lowercase 0x address
    leaf_index: int = Field(sa_type=Integer, primary_key=True)
    commitment: str = Field(sa_type=String(66))  # 0x + 64 hex
    block_number: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(sa_type=String(66))
    timestamp: int = Field(sa_type=BigInteger)  # the block's, as the event reports it


class MixerSyncRow(Table, table=True):
    """The last block whose Deposit events of a pool are all in mixer_deposits."""

    __tablename__ = "mixer_sync"

    chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    pool: str = Field(sa_type=String(42), primary_key=True)
    synced_block: int = Field(sa_type=BigInteger)
    updated_at: datetime = _utc()


class MixerRelayRow(Table, table=True):
    """A withdrawal transaction the relayer signed, stored with its nonce before it is broadcast. Its content
    (proof, nullifier hash, recipient) is public once broadcast; the note behind it is never stored."""

    __tablename__ = "mixer_relays"

    chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    relayer: str = Field(sa_type=String(42), primary_key=True)  # lowercase 0x address
    nonce: int = Field(sa_type=BigInteger, primary_key=True)
    tx_hash: str = Field(sa_type=String(66))
    raw_tx: bytes = Field(sa_type=LargeBinary)
    signed_at: datetime = _utc()


class MixerRelayFailureRow(Table, table=True):
    """A relay the pool refused (in simulation or on chain), counted per note and per user for an hour."""

    __tablename__ = "mixer_relay_failures"
    __table_args__ = (
        Index("ix_mixer_relay_failures_note_id_at", "note_id", "at"),
        Index("ix_mixer_relay_failures_user_ref_at", "user_ref", "at"),
    )

    id: int | None = Field(default=None, sa_type=Integer, primary_key=True)
    note_id: str = Field(sa_type=String(66))  # the note's nullifier hash, 0x + 64 hex
    user_ref: str = Field(sa_type=String(128))
    reason: str = Field(sa_type=String(64))
    tx_hash: str | None = Field(default=None, sa_type=String(66))  # a mined transaction that reverted
    at: datetime = _utc()
