"""Initial schema: users and identities, intents, outbox, processed keys, audit, challenges, nonces, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain types, frozen here on purpose: a later change to adapters.db.types must not rewrite history.
# A uint256 is NUMERIC(78,0) on PostgreSQL and a decimal string on SQLite (NUMERIC affinity would round it).
UINT256 = sa.String(78).with_variant(postgresql.NUMERIC(78, 0), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("wallet", sa.String(64), nullable=True),
        sa.Column("wallet_proof", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_index("ix_users_wallet_lower", "users", [sa.literal_column("lower(wallet)")])

    op.create_table(
        "identities",
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("handle", sa.String(64), nullable=True),
        sa.Column("dm_blocked", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_identities_user_id_users"),
        sa.PrimaryKeyConstraint("ref", name="pk_identities"),
    )
    op.create_index("ix_identities_handle_lower", "identities", [sa.literal_column("lower(handle)")])
    op.create_index("ix_identities_user_id", "identities", ["user_id"])

    op.create_table(
        "intents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("recipient_ref", sa.String(128), nullable=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("intent_hash", sa.String(66), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.Column("needs_confirmation", sa.Boolean(), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("fee", UINT256, nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_intents"),
        sa.UniqueConstraint("intent_hash", name="uq_intents_intent_hash"),
        sa.UniqueConstraint("key", name="uq_intents_key"),
    )
    op.create_index("ix_intents_actor_ref_created_at", "intents", ["actor_ref", "created_at"])
    op.create_index("ix_intents_recipient_ref", "intents", ["recipient_ref"])
    op.create_index("ix_intents_status", "intents", ["status"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("user_ref", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),
    )
    op.create_index("ix_notifications_status", "notifications", ["status"])

    op.create_table(
        "processed_keys",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("intent_id", sa.String(64), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_processed_keys"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )

    op.create_table(
        "link_challenges",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("actor_ref", sa.String(128), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_link_challenges"),
    )
    op.create_index("ix_link_challenges_actor_ref_created_at", "link_challenges", ["actor_ref", "created_at"])

    op.create_table(
        "executor_nonces",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "address", name="pk_executor_nonces"),
    )

    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )


def downgrade() -> None:
    # Indexes go with their tables.
    for table in (
        "meta", "executor_nonces", "link_challenges", "audit_log", "processed_keys", "notifications", "intents",
        "identities", "users",
    ):  # fmt: skip
        op.drop_table(table)
