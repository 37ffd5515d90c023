"""Roles given in chat (one per platform identity), and the audit log's role and exact amount of each decision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_ref", name="pk_roles"),
    )
    # Additive: entries written before this migration keep NULLs (role not looked up, amount in the detail).
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=True))
        batch.add_column(sa.Column("amount", UINT256, nullable=True))
        batch.add_column(sa.Column("token", sa.String(16), nullable=True))
        batch.add_column(sa.Column("decimals", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("decimals")
        batch.drop_column("token")
        batch.drop_column("amount")
        batch.drop_column("role")
    op.drop_table("roles")
