"""The mixer's Deposit-event cache: each pool's deposits by leaf index and its last synced block.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mixer_deposits",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("pool", sa.String(42), nullable=False),
        sa.Column("leaf_index", sa.Integer(), nullable=False),
        sa.Column("commitment", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "pool", "leaf_index", name="pk_mixer_deposits"),
    )
    op.create_table(
        "mixer_sync",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("pool", sa.String(42), nullable=False),
        sa.Column("synced_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "pool", name="pk_mixer_sync"),
    )


def downgrade() -> None:
    for table in ("mixer_sync", "mixer_deposits"):
        op.drop_table(table)
