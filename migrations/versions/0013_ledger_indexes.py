"""The ledger and /history: indexes for every outflow newest first, and the bulk rows paid to a wallet.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_intents_created_at", "intents", ["created_at"])
    op.create_index("ix_bulk_batches_started_at", "bulk_batches", ["started_at"])
    op.create_index("ix_bulk_rows_recipient_lower", "bulk_rows", [sa.literal_column("lower(recipient)")])


def downgrade() -> None:
    op.drop_index("ix_bulk_rows_recipient_lower", table_name="bulk_rows")
    op.drop_index("ix_bulk_batches_started_at", table_name="bulk_batches")
    op.drop_index("ix_intents_created_at", table_name="intents")
