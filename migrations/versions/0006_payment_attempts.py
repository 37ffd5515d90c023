"""Every signed attempt of a payment (hash, nonce, fee), so reconcile checks them all.

Until now a fee-bumped replacement overwrote the intent's tx_hash, so an earlier attempt that was mined (and
reverted) was never looked at again. Existing signed intents get their one known attempt copied over.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, as in 0001: a uint256 is NUMERIC(78,0) on PostgreSQL and a decimal string on SQLite.
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "payment_attempts",
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("intent_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("bump", sa.Integer(), nullable=False),
        sa.Column("max_fee", UINT256, nullable=True),
        sa.Column("tip", UINT256, nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["intent_id"], ["intents.id"], name="fk_payment_attempts_intent_id_intents"),
        sa.PrimaryKeyConstraint("tx_hash", name="pk_payment_attempts"),
    )
    op.create_index("ix_payment_attempts_intent_id", "payment_attempts", ["intent_id"])
    # The latest attempt of every signed intent is all that was kept before; it is at least that one.
    op.execute(
        "INSERT INTO payment_attempts (tx_hash, intent_id, nonce, bump, raw_tx, created_at) "
        "SELECT tx_hash, id, nonce, 0, raw_tx, COALESCE(submitted_at, updated_at) FROM intents "
        "WHERE tx_hash IS NOT NULL AND nonce IS NOT NULL AND raw_tx IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_payment_attempts_intent_id", table_name="payment_attempts")
    op.drop_table("payment_attempts")
