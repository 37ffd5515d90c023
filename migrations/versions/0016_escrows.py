"""Escrowed intents (a member funds them from their own wallet) and the chain watchers' cursors.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001
# A uint256 is NUMERIC(78,0) on PostgreSQL and a decimal string on SQLite (NUMERIC affinity would round it).
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "escrows",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("recipient_ref", sa.String(128), nullable=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("salt", sa.String(66), nullable=False),
        sa.Column("intent_hash", sa.String(66), nullable=False),
        sa.Column("condition", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("pair", sa.String(32), nullable=True),
        sa.Column("above", sa.Boolean(), nullable=True),
        sa.Column("threshold", UINT256, nullable=True),
        sa.Column("price_decimals", sa.Integer(), nullable=True),
        sa.Column("funded", UINT256, nullable=False),
        sa.Column("funder", sa.String(64), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("settled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_escrows"),
        sa.UniqueConstraint("intent_hash", name="uq_escrows_intent_hash"),
        sa.UniqueConstraint("key", name="uq_escrows_key"),
    )
    op.create_index("ix_escrows_status_due_at", "escrows", ["status", "due_at"])
    op.create_index("ix_escrows_status_pair_threshold", "escrows", ["status", "pair", "threshold"])
    op.create_index("ix_escrows_status_expires_at", "escrows", ["status", "expires_at"])
    op.create_index("ix_escrows_actor_ref_created_at", "escrows", ["actor_ref", "created_at"])
    op.create_index("ix_escrows_recipient_ref", "escrows", ["recipient_ref"])
    op.create_table(
        "chain_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_chain_cursors"),
    )


def downgrade() -> None:
    op.drop_table("chain_cursors")
    for name in ("recipient_ref", "actor_ref_created_at", "status_expires_at", "status_pair_threshold", "status_due_at"):
        op.drop_index(f"ix_escrows_{name}", table_name="escrows")
    op.drop_table("escrows")
