"""Bulk payouts: batches, their rows and their on-chain chunks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, as in 0001: a uint256 is NUMERIC(78,0) on PostgreSQL and a decimal string on SQLite.
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bulk_batches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("repeat_of", sa.String(64), nullable=True),
        sa.Column("warned_at", TIMESTAMP, nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("fees", UINT256, nullable=False),
        sa.Column("gas_used", sa.BigInteger(), nullable=False),
        sa.Column("progress_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("progress_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_batches"),
        sa.UniqueConstraint("key", name="uq_bulk_batches_key"),
    )
    op.create_index("ix_bulk_batches_status", "bulk_batches", ["status"])
    op.create_index("ix_bulk_batches_content_hash", "bulk_batches", ["content_hash"])

    op.create_table(
        "bulk_rows",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("intent_hash", sa.String(66), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("batch_id", "seq", name="pk_bulk_rows"),
        sa.ForeignKeyConstraint(["batch_id"], ["bulk_batches.id"], name="fk_bulk_rows_batch_id_bulk_batches"),
        sa.UniqueConstraint("intent_hash", name="uq_bulk_rows_intent_hash"),
    )
    op.create_index("ix_bulk_rows_batch_id_chunk", "bulk_rows", ["batch_id", "chunk"])

    op.create_table(
        "bulk_chunks",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("signed_at", TIMESTAMP, nullable=True),
        sa.Column("fee", UINT256, nullable=True),
        sa.Column("gas_used", sa.BigInteger(), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "index", name="pk_bulk_chunks"),
        sa.ForeignKeyConstraint(["batch_id"], ["bulk_batches.id"], name="fk_bulk_chunks_batch_id_bulk_batches"),
    )
    op.create_index("ix_bulk_chunks_batch_id_status", "bulk_chunks", ["batch_id", "status"])


def downgrade() -> None:
    for table in ("bulk_chunks", "bulk_rows", "bulk_batches"):
        op.drop_table(table)
