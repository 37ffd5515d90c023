"""Repositories of core.ports over one AsyncSession; rows are mapped to core.model dataclasses here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, desc, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.tables import (
    AttemptRow,
    AuditRow,
    ChallengeRow,
    IdentityRow,
    IntentRow,
    NonceRow,
    NotificationRow,
    ProcessedKeyRow,
    Table,
    UserRow,
)
from core.model import (
    Attempt,
    AuditEntry,
    DeliveryStatus,
    Intent,
    IntentStatus,
    LinkChallenge,
    Notification,
    NotificationType,
    ProcessedKey,
    User,
)
from core.ports import DuplicateKey


def insert_for(session: AsyncSession, row_class: type[Table]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both PostgreSQL and SQLite spell it the same)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(row_class)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


# ------------------------------------------------------------------ users
_IDENTITY_FIELDS = ("platform", "platform_user_id", "display_name", "handle", "handle_seen_at", "dm_blocked")


def _user(identity: IdentityRow, person: UserRow) -> User:
    return User(
        ref=identity.ref,
        platform=identity.platform,
        platform_user_id=identity.platform_user_id,
        display_name=identity.display_name,
        handle=identity.handle,
        wallet=person.wallet,
        wallet_proof=person.wallet_proof,
        dm_blocked=identity.dm_blocked,
        created_at=identity.created_at,
        handle_seen_at=identity.handle_seen_at,
    )


class SqlUserRepository(_Repository):
    def _select(self) -> Any:
        return select(IdentityRow, UserRow).join(UserRow, UserRow.id == IdentityRow.user_id)

    async def _where(self, *conditions: ColumnElement[bool]) -> list[User]:
        result = await self.session.execute(self._select().where(*conditions).order_by(IdentityRow.ref))
        return [_user(identity, person) for identity, person in result]

    async def get(self, ref: str) -> User | None:
        found = await self._where(IdentityRow.ref == ref)
        return found[0] if found else None

    async def upsert(self, user: User) -> User:
        if user.handle:
            # A handle belongs to one account per platform: whoever we saw holding it last. The previous
            # holder (Telegram usernames change hands) loses the claim, so it can never be paid by it.
            await self.session.execute(
                update(IdentityRow)
                .where(
                    IdentityRow.platform == user.platform,
                    func.lower(IdentityRow.handle) == user.handle.lower(),
                    IdentityRow.ref != user.ref,
                )
                .values(handle=None, handle_seen_at=None)
            )
        updated = await self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.ref == user.ref)
            .values(display_name=user.display_name, handle=user.handle, handle_seen_at=user.handle_seen_at)
            .returning(IdentityRow.user_id)
        )
        if updated.first() is None and not await self._insert(user):
            # Lost a race with another connection inserting the same ref: theirs stands; apply ours on top.
            return await self.upsert(user)
        stored = await self.get(user.ref)
        assert stored is not None
        return stored

    async def _insert(self, user: User) -> bool:
        """Insert the person and their identity; False if the identity appeared meanwhile."""
        if user.created_at is None:
            raise ValueError("a new user needs created_at")
        person_id = uuid.uuid4().hex
        # A savepoint, so a concurrent insert of the same ref costs only this attempt on PostgreSQL.
        async with self.session.begin_nested() as savepoint:
            await self.session.execute(
                insert_for(self.session, UserRow).values(
                    id=person_id, wallet=user.wallet, wallet_proof=user.wallet_proof, created_at=user.created_at
                )
            )
            inserted = await self.session.execute(
                insert_for(self.session, IdentityRow)
                .values(
                    ref=user.ref,
                    user_id=person_id,
                    created_at=user.created_at,
                    **{name: getattr(user, name) for name in _IDENTITY_FIELDS},
                )
                .on_conflict_do_nothing(index_elements=["ref"])
                .returning(IdentityRow.ref)
            )
            if inserted.first() is None:
                await savepoint.rollback()
                return False
        return True

    async def by_handle(self, handle: str, platform: str | None = None) -> list[User]:
        conditions = [func.lower(IdentityRow.handle) == handle.lstrip("@").lower()]
        if platform is not None:
            conditions.append(IdentityRow.platform == platform)
        return await self._where(*conditions)

    async def by_wallet(self, address: str) -> list[User]:
        return await self._where(func.lower(UserRow.wallet) == address.lower())

    async def save(self, user: User) -> None:
        updated = await self.session.execute(
            update(IdentityRow)
            .where(IdentityRow.ref == user.ref)
            .values(**{name: getattr(user, name) for name in _IDENTITY_FIELDS})
            .returning(IdentityRow.user_id)
        )
        person_id = updated.scalar_one_or_none()
        if person_id is None:
            if not await self._insert(user):
                await self.save(user)
            return
        await self.session.execute(
            update(UserRow).where(UserRow.id == person_id).values(wallet=user.wallet, wallet_proof=user.wallet_proof)
        )


# ------------------------------------------------------------------ intents
_INTENT_FIELDS = (
    "id", "key", "actor_ref", "recipient", "token", "amount", "intent_hash", "created_at", "updated_at",
    "recipient_ref", "memo", "needs_confirmation", "nonce", "raw_tx", "tx_hash", "fee", "block_number", "error",
    "submitted_at", "mixer_commitment",
)  # fmt: skip


def _intent(row: IntentRow) -> Intent:
    return Intent(status=IntentStatus(row.status), **{name: getattr(row, name) for name in _INTENT_FIELDS})


def _intent_values(intent: Intent) -> dict[str, Any]:
    return {"status": intent.status.value, **{name: getattr(intent, name) for name in _INTENT_FIELDS}}


class SqlIntentRepository(_Repository):
    async def add(self, intent: Intent) -> None:
        # Added to the session, not executed: several adds (a bulk batch) flush as one multi-row INSERT.
        self.session.add(IntentRow(**_intent_values(intent)))

    async def get(self, intent_id: str, *, for_update: bool = False) -> Intent | None:
        query = select(IntentRow).where(IntentRow.id == intent_id).execution_options(populate_existing=True)
        if for_update:
            query = query.with_for_update()  # SQLite ignores it; BEGIN IMMEDIATE already holds the write lock
        row = (await self.session.execute(query)).scalar_one_or_none()
        return None if row is None else _intent(row)

    async def save(self, intent: Intent) -> None:
        row = await self.session.get(IntentRow, intent.id)  # usually already in the identity map: no query
        if row is None:
            await self.add(intent)
            return
        for name, value in _intent_values(intent).items():
            setattr(row, name, value)  # the flush at commit writes only the columns that changed

    async def for_actor(self, actor_ref: str, limit: int) -> list[Intent]:
        query = (
            select(IntentRow)
            .where(or_(IntentRow.actor_ref == actor_ref, IntentRow.recipient_ref == actor_ref))
            .order_by(desc(IntentRow.created_at), desc(IntentRow.id))
            .limit(limit)
        )
        return [_intent(row) for row in (await self.session.execute(query)).scalars()]

    async def with_status(self, status: IntentStatus, limit: int = 1000) -> list[Intent]:
        query = (
            select(IntentRow)
            .where(IntentRow.status == status.value)
            .order_by(IntentRow.created_at, IntentRow.id)
            .limit(limit)
        )
        return [_intent(row) for row in (await self.session.execute(query)).scalars()]

    async def in_flight(self, token: str) -> int:
        submitted = (IntentRow.token == token, IntentRow.status == IntentStatus.SUBMITTED.value)
        if _is_postgres(self.session):
            total = (await self.session.execute(select(func.sum(IntentRow.amount)).where(*submitted))).scalar()
            return total or 0
        # SQLite would sum the decimal strings as floats; the in-flight set is small, so add them here.
        amounts = await self.session.execute(select(IntentRow.amount).where(*submitted))
        return sum(amounts.scalars())

    async def add_attempt(self, attempt: Attempt) -> None:
        self.session.add(AttemptRow(**{name: getattr(attempt, name) for name in _ATTEMPT_FIELDS}))

    async def attempts(self, intent_id: str) -> list[Attempt]:
        query = (
            select(AttemptRow)
            .where(AttemptRow.intent_id == intent_id)
            .order_by(AttemptRow.created_at, AttemptRow.bump, AttemptRow.tx_hash)
        )
        rows = (await self.session.execute(query)).scalars()
        return [Attempt(**{name: getattr(row, name) for name in _ATTEMPT_FIELDS}) for row in rows]


_ATTEMPT_FIELDS = ("intent_id", "tx_hash", "nonce", "bump", "raw_tx", "created_at", "max_fee", "tip")


# ------------------------------------------------------------------ outbox
def _notification(row: NotificationRow) -> Notification:
    return Notification(
        dedup_key=row.dedup_key,
        user_ref=row.user_ref,
        type=NotificationType(row.type),
        body=row.body,
        created_at=row.created_at,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
        id=row.id,
    )


def _notification_values(n: Notification) -> dict[str, Any]:
    return {
        "dedup_key": n.dedup_key,
        "user_ref": n.user_ref,
        "type": n.type.value,
        "body": n.body,
        "created_at": n.created_at,
        "status": n.status.value,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "sent_at": n.sent_at,
    }


class SqlOutboxRepository(_Repository):
    async def add(self, notification: Notification) -> None:
        inserted = await self.session.execute(
            insert_for(self.session, NotificationRow)
            .values(**_notification_values(notification))
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(NotificationRow.id)
        )
        new_id = inserted.scalar_one_or_none()
        if new_id is not None:
            notification.id = new_id

    async def pending(self, limit: int = 100) -> list[Notification]:
        query = (
            select(NotificationRow)
            .where(NotificationRow.status == DeliveryStatus.PENDING.value)
            .order_by(NotificationRow.id)
            .limit(limit)
        )
        return [_notification(row) for row in (await self.session.execute(query)).scalars()]

    async def claim(self, limit: int, *, now: datetime, until: datetime, platform: str | None = None) -> list[Notification]:
        free = [
            NotificationRow.status == DeliveryStatus.PENDING.value,
            or_(NotificationRow.claimed_until.is_(None), NotificationRow.claimed_until <= now),
        ]
        if platform:
            free.append(NotificationRow.user_ref.startswith(f"{platform}:", autoescape=True))
        # PostgreSQL: rows another claimer has locked are skipped, and ours stay locked until commit, so no two
        # claimers get one row. (Not one UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED):
        # on PostgreSQL that claimed every free row, not n.) SQLite: every transaction
        # begins IMMEDIATE (adapters.db.engine), so claimers take turns and the lease alone does it.
        chosen = select(NotificationRow.id).where(*free).order_by(NotificationRow.id).limit(limit)
        if _is_postgres(self.session):
            chosen = chosen.with_for_update(skip_locked=True)
        ids = list((await self.session.execute(chosen)).scalars())
        if not ids:
            return []
        claimed = await self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.id.in_(ids))
            .values(claimed_until=until)
            .returning(NotificationRow)
            .execution_options(synchronize_session=False)
        )
        return sorted((_notification(row) for row in claimed.scalars()), key=lambda n: n.id or 0)

    async def save(self, notification: Notification) -> None:
        values = _notification_values(notification)
        await self.session.execute(
            update(NotificationRow).where(NotificationRow.dedup_key == notification.dedup_key).values(**values)
        )


# ------------------------------------------------------------------ idempotency keys
_KEY_FIELDS = ("key", "command", "actor_ref", "created_at", "intent_id", "reply")


class SqlKeyRepository(_Repository):
    async def get(self, key: str) -> ProcessedKey | None:
        row = (await self.session.execute(select(ProcessedKeyRow).where(ProcessedKeyRow.key == key))).scalar()
        return None if row is None else ProcessedKey(**{name: getattr(row, name) for name in _KEY_FIELDS})

    async def add(self, record: ProcessedKey) -> None:
        # ON CONFLICT DO NOTHING rather than a failing INSERT: on PostgreSQL a unique violation would abort
        # the whole transaction, and the caller may still want to read the first outcome in it.
        inserted = await self.session.execute(
            insert_for(self.session, ProcessedKeyRow)
            .values(**{name: getattr(record, name) for name in _KEY_FIELDS})
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(ProcessedKeyRow.key)
        )
        if inserted.first() is None:
            raise DuplicateKey(record.key)

    async def save(self, record: ProcessedKey) -> None:
        await self.session.execute(
            update(ProcessedKeyRow)
            .where(ProcessedKeyRow.key == record.key)
            .values(**{name: getattr(record, name) for name in _KEY_FIELDS if name != "key"})
        )


# ------------------------------------------------------------------ audit
_AUDIT_FIELDS = ("actor_ref", "command", "key", "outcome", "detail", "at")


class SqlAuditRepository(_Repository):
    async def add(self, entry: AuditEntry) -> None:
        self.session.add(AuditRow(**{name: getattr(entry, name) for name in _AUDIT_FIELDS}))

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self.session.execute(select(AuditRow).order_by(desc(AuditRow.id)).limit(limit))
        return [AuditEntry(id=row.id, **{name: getattr(row, name) for name in _AUDIT_FIELDS}) for row in rows.scalars()]


# ------------------------------------------------------------------ nonces
class SqlNonceRepository(_Repository):
    async def reserve(self, chain_id: int, address: str, floor: int) -> int:
        # One statement: create the row at floor+1, or move it to max(next, floor)+1; either way it returns
        # the reserved value. The row lock (PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) is held
        # until the unit of work ends, so a concurrent reserve waits and then sees our value: a rollback
        # leaves the nonce to the next caller, a commit moves everyone past it.
        larger = func.greatest if _is_postgres(self.session) else func.max  # SQLite's two-argument max()
        statement = insert_for(self.session, NonceRow).values(
            chain_id=chain_id, address=address.lower(), next_nonce=floor + 1
        )
        statement = statement.on_conflict_do_update(
            index_elements=["chain_id", "address"],
            set_={"next_nonce": larger(NonceRow.next_nonce, floor) + 1},
        ).returning(NonceRow.next_nonce)
        next_nonce = (await self.session.execute(statement)).scalar_one()
        return next_nonce - 1


# ------------------------------------------------------------------ link challenges
_CHALLENGE_FIELDS = ("id", "actor_ref", "address", "message", "created_at", "expires_at", "used")


class SqlChallengeRepository(_Repository):
    async def add(self, challenge: LinkChallenge) -> None:
        self.session.add(ChallengeRow(**{name: getattr(challenge, name) for name in _CHALLENGE_FIELDS}))

    async def latest(self, actor_ref: str) -> LinkChallenge | None:
        query = (
            select(ChallengeRow)
            .where(ChallengeRow.actor_ref == actor_ref, ChallengeRow.used.is_(False))
            .order_by(desc(ChallengeRow.created_at), desc(ChallengeRow.id))
            .limit(1)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(query)).scalar()
        return None if row is None else LinkChallenge(**{name: getattr(row, name) for name in _CHALLENGE_FIELDS})

    async def save(self, challenge: LinkChallenge) -> None:
        values = {name: getattr(challenge, name) for name in _CHALLENGE_FIELDS if name != "id"}
        await self.session.execute(update(ChallengeRow).where(ChallengeRow.id == challenge.id).values(**values))
