"""Bulk exactly-once by bitmap: a row id per bulk row (its bit in Settlement.paidRows) and the counter handing them out

Rows stored before this revision get ids too (in batch and file order), so a running batch can still settle.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_row_ids",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_bulk_row_ids")),
    )
    # Not batch mode: SQLite would copy the table and lose 0013's expression index on it.
    op.add_column("bulk_rows", sa.Column("row_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_bulk_rows_row_id", "bulk_rows", ["row_id"], unique=True)
    # Existing rows: ids 0..n-1 in (batch, file) order; the counter starts at the next whole 256-row word.
    op.execute(
        "UPDATE bulk_rows SET row_id = numbered.n FROM ("
        " SELECT batch_id, seq, ROW_NUMBER() OVER (ORDER BY batch_id, seq) - 1 AS n FROM bulk_rows) AS numbered"
        " WHERE bulk_rows.batch_id = numbered.batch_id AND bulk_rows.seq = numbered.seq"
    )
    op.execute(
        "INSERT INTO bulk_row_ids (name, next_id)"
        " SELECT 'rows', ((COUNT(*) + 255) / 256) * 256 FROM bulk_rows"
    )


def downgrade() -> None:
    op.drop_index("ix_bulk_rows_row_id", table_name="bulk_rows")
    op.drop_column("bulk_rows", "row_id")
    op.drop_table("bulk_row_ids")
