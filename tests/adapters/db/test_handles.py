"""Handles in the SQL users repository (finding H4): when each was last seen held, and handing one over."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from core.model import User

T0 = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=timezone.utc)
WALLET = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"


def user(ref: str, **changes: object) -> User:
    platform, user_id = ref.split(":")
    base = User(ref=ref, platform=platform, platform_user_id=user_id, display_name="Alice", handle="alice",
                handle_seen_at=T0, created_at=T0)  # fmt: skip
    return dataclasses.replace(base, **changes)


async def test_h4_handle_seen_at_round_trips_and_is_updated_by_upsert(uow) -> None:
    async with uow() as u:
        assert (await u.users.upsert(user("telegram:1"))).handle_seen_at == T0
        await u.commit()
    later = T0 + timedelta(days=3)
    async with uow() as u:
        me = await u.users.upsert(user("telegram:1", handle_seen_at=later))
        me.wallet = WALLET
        await u.users.save(me)  # /link saves the whole user: the timestamp survives it
        await u.commit()
    async with uow() as u:
        stored = await u.users.get("telegram:1")
        assert stored is not None and stored.handle_seen_at == later and stored.wallet == WALLET


async def test_h4_a_handle_taken_over_on_one_platform_is_cleared_from_its_old_holder_only(uow) -> None:
    async with uow() as u:
        old = await u.users.upsert(user("telegram:1"))
        old.wallet = WALLET
        await u.users.save(old)
        await u.users.upsert(user("discord:9"))  # the same name on another platform is someone else
        await u.commit()
    async with uow() as u:
        await u.users.upsert(user("telegram:66", display_name="Mallory", handle="alice", handle_seen_at=T0 + timedelta(days=40)))
        await u.commit()
    async with uow() as u:
        previous = await u.users.get("telegram:1")
        assert previous is not None and previous.handle is None and previous.handle_seen_at is None
        assert previous.wallet == WALLET  # only the handle moved, not the wallet
        assert [x.ref for x in await u.users.by_handle("alice", platform="telegram")] == ["telegram:66"]
        assert [x.ref for x in await u.users.by_handle("alice", platform="discord")] == ["discord:9"]
