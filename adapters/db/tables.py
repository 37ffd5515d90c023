"""SQLModel tables: the only place SnowRail's schema is declared; migrations/ follows this metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, MetaData, String, Text, func
from sqlalchemy import Table as SqlTable
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from adapters.db.types import Uint256, UtcDateTime

# Stable constraint names, so migrations can name what they alter on either backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Our own registry: SQLModel's default metadata is process-wide and would mix in anyone else's tables.
metadata = MetaData(naming_convention=NAMING)


class Table(SQLModel, registry=registry(metadata=metadata)):
    """Base of every table row class (never handed outside adapters/db)."""

    __table__: ClassVar[SqlTable]  # set by SQLModel for each table=True class; declared so its columns are typed


def _utc(*, nullable: bool = False) -> Any:
    return Field(sa_type=UtcDateTime, nullable=nullable)


class UserRow(Table, table=True):
    """A person; wallet and its proof belong here so every platform identity of them shares it."""

    __tablename__ = "users"

    id: str = Field(sa_type=String(32), primary_key=True)
    wallet: str | None = Field(default=None, sa_type=String(64))
    wallet_proof: str | None = Field(default=None, sa_type=Text)  # the signed challenge, "\n--\n", signature
    created_at: datetime = _utc()


class IdentityRow(Table, table=True):
    """One platform account ("platform:user_id") of a user."""

    __tablename__ = "identities"

    ref: str = Field(sa_type=String(128), primary_key=True)
    user_id: str = Field(sa_type=String(32), foreign_key="users.id", index=True)
    platform: str = Field(sa_type=String(16))
    platform_user_id: str = Field(sa_type=String(64))
    display_name: str = Field(default="", sa_type=String(256))
    handle: str | None = Field(default=None, sa_type=String(64))
    handle_seen_at: datetime | None = _utc(nullable=True)  # last message in which they held `handle`
    tz: str | None = Field(default=None, sa_type=String(64))  # IANA zone set with /tz; None: UTC
    dm_blocked: bool = False
    created_at: datetime = _utc()


# Lookups by @handle and by wallet ignore case; expression indexes keep them index scans on both backends.
Index("ix_users_wallet_lower", func.lower(UserRow.__table__.c.wallet))
Index("ix_identities_handle_lower", func.lower(IdentityRow.__table__.c.handle))


class IntentRow(Table, table=True):
    __tablename__ = "intents"
    __table_args__ = (
        Index("ix_intents_actor_ref_created_at", "actor_ref", "created_at"),
        Index("ix_intents_created_at", "created_at"),  # the ledger: every outflow, newest first
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    key: str = Field(sa_type=String(200), unique=True)
    actor_ref: str = Field(sa_type=String(128))
    recipient: str = Field(sa_type=String(64))
    recipient_ref: str | None = Field(default=None, sa_type=String(128), index=True)
    token: str = Field(sa_type=String(32))
    amount: int = Field(sa_type=Uint256)
    intent_hash: str = Field(sa_type=String(66), unique=True)
    status: str = Field(sa_type=String(16), index=True)
    memo: str | None = Field(default=None, sa_type=Text)
    needs_confirmation: bool = False
    nonce: int | None = Field(default=None, sa_type=BigInteger)
    raw_tx: bytes | None = Field(default=None, sa_type=LargeBinary)
    tx_hash: str | None = Field(default=None, sa_type=String(66))
    fee: int | None = Field(default=None, sa_type=Uint256)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    submitted_at: datetime | None = _utc(nullable=True)
    mixer_commitment: str | None = Field(default=None, sa_type=String(66))  # public; never a note


class AttemptRow(Table, table=True):
    """Every signed transaction of an intent (the first and each fee-bumped replacement), never overwritten:
    any of them may be the one that is mined, so reconcile checks them all."""

    __tablename__ = "payment_attempts"

    tx_hash: str = Field(sa_type=String(66), primary_key=True)
    intent_id: str = Field(sa_type=String(64), foreign_key="intents.id", index=True)
    nonce: int = Field(sa_type=BigInteger)
    bump: int = Field(default=0, sa_type=Integer)
    max_fee: int | None = Field(default=None, sa_type=Uint256)
    tip: int | None = Field(default=None, sa_type=Uint256)
    raw_tx: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = _utc()


class NotificationRow(Table, table=True):
    """The outbox."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, sa_type=Integer, primary_key=True)
    dedup_key: str = Field(sa_type=String(200), unique=True)
    user_ref: str = Field(sa_type=String(128))
    type: str = Field(sa_type=String(32))
    body: str = Field(sa_type=Text)
    status: str = Field(sa_type=String(16), index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc()
    sent_at: datetime | None = _utc(nullable=True)
    claimed_until: datetime | None = _utc(nullable=True)  # a deliverer holds it until then (see outbox.claim)


class ProcessedKeyRow(Table, table=True):
    __tablename__ = "processed_keys"

    key: str = Field(sa_type=String(200), primary_key=True)
    command: str = Field(sa_type=String(32))
    actor_ref: str = Field(sa_type=String(128))
    intent_id: str | None = Field(default=None, sa_type=String(64))
    reply: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc()


class AuditRow(Table, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_type=Integer, primary_key=True)
    actor_ref: str = Field(sa_type=String(128))
    command: str = Field(sa_type=String(32))
    key: str = Field(sa_type=String(200))
    outcome: str = Field(sa_type=String(16))
    detail: str = Field(sa_type=Text)
    at: datetime = _utc()
    role: str | None = Field(default=None, sa_type=String(16))  # the actor's role then (None: rows before 0010)
    amount: int | None = Field(default=None, sa_type=Uint256)  # base units of `token`, exact
    token: str | None = Field(default=None, sa_type=String(16))
    decimals: int | None = Field(default=None, sa_type=Integer)


class RoleRow(Table, table=True):
    """A role given in chat to one platform identity (core.roles.RoleGrant); the latest change wins."""

    __tablename__ = "roles"

    user_ref: str = Field(sa_type=String(128), primary_key=True)
    role: str = Field(sa_type=String(16))
    changed_by: str = Field(sa_type=String(128))
    changed_at: datetime = _utc()


class ChallengeRow(Table, table=True):
    __tablename__ = "link_challenges"
    __table_args__ = (Index("ix_link_challenges_actor_ref_created_at", "actor_ref", "created_at"),)

    id: str = Field(sa_type=String(64), primary_key=True)
    actor_ref: str = Field(sa_type=String(128))
    address: str = Field(sa_type=String(64))
    message: str = Field(sa_type=Text)
    used: bool = False
    created_at: datetime = _utc()
    expires_at: datetime = _utc()


class NonceRow(Table, table=True):
    """The executor's next nonce per chain; reserve() moves it under a row (or database) lock."""

    __tablename__ = "executor_nonces"

    chain_id: int = Field(sa_type=BigInteger, primary_key=True)
    address: str = Field(sa_type=String(64), primary_key=True)  # lowercase
    next_nonce: int = Field(sa_type=BigInteger)


class MetaRow(Table, table=True):
    """Facts about the database itself, e.g. which chain a SQLite file belongs to."""

    __tablename__ = "meta"

    key: str = Field(sa_type=String(64), primary_key=True)
    value: str = Field(sa_type=Text)

from adapters.db import bulk_tables  # noqa: E402,F401  (bulk payout tables join this metadata; declared there)
from adapters.db import mixer_tables  # noqa: E402,F401  (the mixer's deposit cache joins this metadata too)
from adapters.db import approval_tables  # noqa: E402,F401  (M-of-N approvals join this metadata; declared there)
from adapters.db import schedule_tables  # noqa: E402,F401  (scheduled payments and occurrences; declared there)
from adapters.db import payee_tables  # noqa: E402,F401  (saved payees and payout templates; declared there)
from adapters.db import escrow_tables  # noqa: E402,F401  (escrowed intents and chain cursors; declared there)
from adapters.db import price_alert_tables  # noqa: E402,F401  (price alerts join this metadata; declared there)
from adapters.db import web_tables  # noqa: E402,F401  (the web dashboard's sign-ins and read marks; declared there)
