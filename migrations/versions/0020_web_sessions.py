"""The web dashboard: sign-in links already followed, how far each person read their notifications, and the
indexes its notifications and ledger pages read by (the ledger's keyset, with a token or status filter too).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001


def upgrade() -> None:
    op.create_table(
        "web_sign_ins",
        sa.Column("link_id", sa.String(64), nullable=False),
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("link_id", name="pk_web_sign_ins"),
    )
    op.create_table(
        "web_reads",
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("read_until", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("user_ref", name="pk_web_reads"),
    )
    op.create_index("ix_notifications_user_ref_created_at", "notifications", ["user_ref", "created_at"])
    op.create_index("ix_bulk_rows_batch_id_line", "bulk_rows", ["batch_id", "line"])
    op.create_index("ix_bulk_rows_batch_id_token_line", "bulk_rows", ["batch_id", "token", "line"])
    op.create_index("ix_bulk_rows_batch_id_status_line", "bulk_rows", ["batch_id", "status", "line"])
    op.create_index("ix_intents_token_created_at", "intents", ["token", "created_at"])
    op.create_index("ix_intents_status_created_at", "intents", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_intents_status_created_at", table_name="intents")
    op.drop_index("ix_intents_token_created_at", table_name="intents")
    op.drop_index("ix_bulk_rows_batch_id_status_line", table_name="bulk_rows")
    op.drop_index("ix_bulk_rows_batch_id_token_line", table_name="bulk_rows")
    op.drop_index("ix_bulk_rows_batch_id_line", table_name="bulk_rows")
    op.drop_index("ix_notifications_user_ref_created_at", table_name="notifications")
    op.drop_table("web_reads")
    op.drop_table("web_sign_ins")
