"""Scheduled and recurring payments, and their occurrences (UNIQUE per schedule and due time)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)  # frozen here, as in 0001
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("owner_ref", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("recipient_ref", sa.String(128), nullable=True),
        sa.Column("recipient_text", sa.String(200), nullable=False),
        sa.Column("token", sa.String(16), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("rule", sa.String(400), nullable=True),
        sa.Column("dtstart", TIMESTAMP, nullable=False),
        sa.Column("tz", sa.String(64), nullable=False),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column("next_run_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("skip_next", sa.Boolean(), nullable=False),
        sa.Column("reminded_for", TIMESTAMP, nullable=True),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
        sa.UniqueConstraint("key", name="uq_schedules_key"),
    )
    op.create_index("ix_schedules_status_next_run_at", "schedules", ["status", "next_run_at"])
    op.create_index("ix_schedules_owner_ref_status", "schedules", ["owner_ref", "status"])
    op.create_table(
        "schedule_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.String(32), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("owner_ref", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("recipient_ref", sa.String(128), nullable=True),
        sa.Column("token", sa.String(16), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent_id", sa.String(64), nullable=True),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("template", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], name="fk_schedule_occurrences_schedule_id_schedules"),
        sa.PrimaryKeyConstraint("id", name="pk_schedule_occurrences"),
        sa.UniqueConstraint("schedule_id", "due_at", name="uq_schedule_occurrences_schedule_id_due_at"),
        sa.UniqueConstraint("key", name="uq_schedule_occurrences_key"),
    )
    op.create_index("ix_schedule_occurrences_status_due_at", "schedule_occurrences", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_schedule_occurrences_status_due_at", table_name="schedule_occurrences")
    op.drop_table("schedule_occurrences")
    op.drop_index("ix_schedules_owner_ref_status", table_name="schedules")
    op.drop_index("ix_schedules_status_next_run_at", table_name="schedules")
    op.drop_table("schedules")
