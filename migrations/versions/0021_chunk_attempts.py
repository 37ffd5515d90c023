"""Every transaction signed for a bulk chunk (bulk_chunks.signed_hashes), so a row paid by any other is caught

A chunk's rows the contract reports as paid earlier count as paid only if one of the chunk's own transactions paid
them; a database behind its contract (a fresh one, a restored backup) could otherwise hand out row ids the
contract already paid and record those rows as paid. Chunks signed before this revision start with their
current hash.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not batch mode: SQLite would copy the table for a nullable column it can simply add.
    op.add_column("bulk_chunks", sa.Column("signed_hashes", sa.Text(), nullable=True))
    op.execute("UPDATE bulk_chunks SET signed_hashes = tx_hash WHERE tx_hash IS NOT NULL")


def downgrade() -> None:
    op.drop_column("bulk_chunks", "signed_hashes")
