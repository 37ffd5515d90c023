"""Tables of the mixer's Deposit-event cache (public chain data only), declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
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
