"""People: their platform identities and wallets (SqlUserRepository), and wallet link challenges."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, desc, func, select, update
from sqlmodel import col

from adapters.db.repositories.dialect import SessionRepository, insert_for
from adapters.db.tables import ChallengeRow, IdentityRow, UserRow
from core.model import LinkChallenge, User


_IDENTITY_FIELDS = ("platform", "platform_user_id", "display_name", "handle", "handle_seen_at", "dm_blocked", "tz")


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
        tz=identity.tz,
    )


class SqlUserRepository(SessionRepository):
    def _select(self) -> Any:
        return select(IdentityRow, UserRow).join(UserRow, col(UserRow.id) == col(IdentityRow.user_id))

    async def _where(self, *conditions: ColumnElement[bool]) -> list[User]:
        result = await self.session.execute(self._select().where(*conditions).order_by(col(IdentityRow.ref)))
        return [_user(identity, person) for identity, person in result]

    async def get(self, ref: str) -> User | None:
        found = await self._where(col(IdentityRow.ref) == ref)
        return found[0] if found else None

    async def upsert(self, user: User) -> User:
        if user.handle:
            # A handle belongs to one account per platform: whoever we saw holding it last. The previous
            # holder (Telegram usernames change hands) loses the claim, so it can never be paid by it.
            await self.session.execute(
                update(IdentityRow)
                .where(
                    col(IdentityRow.platform) == user.platform,
                    func.lower(col(IdentityRow.handle)) == user.handle.lower(),
                    col(IdentityRow.ref) != user.ref,
                )
                .values(handle=None, handle_seen_at=None)
            )
        updated = await self.session.execute(
            update(IdentityRow)
            .where(col(IdentityRow.ref) == user.ref)
            .values(display_name=user.display_name, handle=user.handle, handle_seen_at=user.handle_seen_at)
            .returning(col(IdentityRow.user_id))
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
                .returning(col(IdentityRow.ref))
            )
            if inserted.first() is None:
                await savepoint.rollback()
                return False
        return True

    async def by_handle(self, handle: str, platform: str | None = None) -> list[User]:
        conditions = [func.lower(col(IdentityRow.handle)) == handle.lstrip("@").lower()]
        if platform is not None:
            conditions.append(col(IdentityRow.platform) == platform)
        return await self._where(*conditions)

    async def by_wallet(self, address: str) -> list[User]:
        return await self._where(func.lower(col(UserRow.wallet)) == address.lower())

    async def by_wallets(self, addresses: list[str]) -> list[User]:
        wanted = sorted({a.lower() for a in addresses})
        found: list[User] = []
        for start in range(0, len(wanted), 1000):  # bounded IN lists: one index probe per address
            found += await self._where(func.lower(col(UserRow.wallet)).in_(wanted[start : start + 1000]))
        return found

    async def save(self, user: User) -> None:
        updated = await self.session.execute(
            update(IdentityRow)
            .where(col(IdentityRow.ref) == user.ref)
            .values(**{name: getattr(user, name) for name in _IDENTITY_FIELDS})
            .returning(col(IdentityRow.user_id))
        )
        person_id = updated.scalar_one_or_none()
        if person_id is None:
            if not await self._insert(user):
                await self.save(user)
            return
        await self.session.execute(
            update(UserRow)
            .where(col(UserRow.id) == person_id)
            .values(wallet=user.wallet, wallet_proof=user.wallet_proof)
        )


_CHALLENGE_FIELDS = ("id", "actor_ref", "address", "message", "created_at", "expires_at", "used")


class SqlChallengeRepository(SessionRepository):
    async def add(self, challenge: LinkChallenge) -> None:
        self.session.add(ChallengeRow(**{name: getattr(challenge, name) for name in _CHALLENGE_FIELDS}))

    async def latest(self, actor_ref: str) -> LinkChallenge | None:
        query = (
            select(ChallengeRow)
            .where(col(ChallengeRow.actor_ref) == actor_ref, col(ChallengeRow.used).is_(False))
            .order_by(desc(col(ChallengeRow.created_at)), desc(col(ChallengeRow.id)))
            .limit(1)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(query)).scalar()
        return None if row is None else LinkChallenge(**{name: getattr(row, name) for name in _CHALLENGE_FIELDS})

    async def save(self, challenge: LinkChallenge) -> None:
        values = {name: getattr(challenge, name) for name in _CHALLENGE_FIELDS if name != "id"}
        await self.session.execute(update(ChallengeRow).where(col(ChallengeRow.id) == challenge.id).values(**values))
