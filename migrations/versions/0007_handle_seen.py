"""When each user was last seen holding their handle, so stale handles need a confirmation.

The handle lives on `identities` (one row per platform account), so its timestamp does too. Existing rows
start with NULL: nobody has been seen holding their handle since this column exists, so a payment to them
by handle carries the stale-handle warning until they next send the bot a message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("handle_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("handle_seen_at")
    if op.get_bind().dialect.name == "sqlite":
        # Dropping a column rebuilds the table on SQLite, and the rebuild cannot reflect expression indexes.
        op.create_index(
            "ix_identities_handle_lower", "identities", [sa.literal_column("lower(handle)")], if_not_exists=True
        )
