"""Failed mixer relays per note (nullifier hash) and per user, bounded per hour; the relayer's signed transactions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mixer_relays",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("relayer", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=False),
        sa.Column("signed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "relayer", "nonce", name="pk_mixer_relays"),
    )
    op.create_table(
        "mixer_relay_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.String(66), nullable=False),
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mixer_relay_failures"),
    )
    op.create_index("ix_mixer_relay_failures_note_id_at", "mixer_relay_failures", ["note_id", "at"])
    op.create_index("ix_mixer_relay_failures_user_ref_at", "mixer_relay_failures", ["user_ref", "at"])


def downgrade() -> None:
    op.drop_index("ix_mixer_relay_failures_user_ref_at", table_name="mixer_relay_failures")
    op.drop_index("ix_mixer_relay_failures_note_id_at", table_name="mixer_relay_failures")
    op.drop_table("mixer_relay_failures")
    op.drop_table("mixer_relays")
