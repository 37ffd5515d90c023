"""Saved payees and payout templates (core.payees): names the team pays by, and batches' rows kept to run again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001
# Uint256 as adapters.db.types declares it: NUMERIC(78,0) on PostgreSQL, a decimal string on SQLite.
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "payees",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("handle", sa.String(64), nullable=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_payees"),
    )
    op.create_table(
        "payout_templates",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("source_batch", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payout_templates"),
        sa.UniqueConstraint("name", name="uq_payout_templates_name"),
    )
    op.create_table(
        "payout_template_rows",
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["template_id"], ["payout_templates.id"],
                                name="fk_payout_template_rows_template_id_payout_templates"),
        sa.PrimaryKeyConstraint("template_id", "seq", name="pk_payout_template_rows"),
    )


def downgrade() -> None:
    op.drop_table("payout_template_rows")
    op.drop_table("payout_templates")
    op.drop_table("payees")
