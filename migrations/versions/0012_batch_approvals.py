"""Approval requests for bulk batches too: approval_requests.intent_id names a payment or a batch, so it no
longer references intents.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_constraint("fk_approval_requests_intent_id_intents", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.create_foreign_key("fk_approval_requests_intent_id_intents", "intents", ["intent_id"], ["id"])
