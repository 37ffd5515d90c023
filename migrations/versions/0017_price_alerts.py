"""Price alerts (/alert): who is told when a pair crosses a level, and where the last fresh reading put it

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001


def upgrade() -> None:
    op.create_table(
        "price_alerts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner_ref", sa.String(128), nullable=False),
        sa.Column("pair", sa.String(40), nullable=False),
        sa.Column("above", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("on_side", sa.Boolean(), nullable=True),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_fired_at", TIMESTAMP, nullable=True),
        sa.Column("cancelled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_price_alerts"),
    )
    op.create_index("ix_price_alerts_active_pair_threshold", "price_alerts", ["active", "pair", "threshold"])
    op.create_index("ix_price_alerts_owner_ref_active", "price_alerts", ["owner_ref", "active"])


def downgrade() -> None:
    op.drop_index("ix_price_alerts_owner_ref_active", table_name="price_alerts")
    op.drop_index("ix_price_alerts_active_pair_threshold", table_name="price_alerts")
    op.drop_table("price_alerts")
