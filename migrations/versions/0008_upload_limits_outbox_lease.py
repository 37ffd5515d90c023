"""Upload rate limits per user, and outbox rows claimed with a lease so two workers never DM the same one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001


def upgrade() -> None:
    op.create_table(
        "bulk_upload_counts",
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("actor_ref", "period", "started_at", name="pk_bulk_upload_counts"),
    )
    # NULL: never claimed. Rows already in the outbox are free to be claimed.
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("claimed_until", TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("claimed_until")
    op.drop_table("bulk_upload_counts")
