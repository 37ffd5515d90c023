"""Every signed attempt of a payment is kept (M2), and the reconcile lock is exclusive across connections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from adapters.db import create_engine_for, make_uow_factory, upgrade
from core.model import Attempt, Intent, IntentStatus

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BIG = 2**255 + 7  # a fee field beyond BIGINT must round-trip exactly


def _intent(n: int = 1) -> Intent:
    return Intent(id=f"pay-{n}", key=f"k-{n}", actor_ref="console:op", recipient="0x" + "11" * 20, token="CRO",
                  amount=10**18, intent_hash="0x" + f"{n:064x}", created_at=NOW, updated_at=NOW)


async def test_attempts_are_kept_in_order_and_never_overwritten(uow) -> None:
    intent = _intent()
    first = Attempt(intent.id, "0x" + "a1" * 32, 7, 0, b"\x02first", NOW, 2 * 10**9, 10**9)
    second = Attempt(intent.id, "0x" + "a2" * 32, 7, 3, b"\x02second", NOW + timedelta(minutes=4), BIG, BIG - 1)
    async with uow() as u:
        await u.intents.add(intent)
        intent.submit(nonce=7, raw_tx=first.raw_tx, tx_hash=first.tx_hash, now=NOW)
        await u.intents.save(intent)
        await u.intents.add_attempt(first)
        assert await u.intents.attempts(intent.id) == [first]  # visible inside the same unit of work
        await u.commit()
    async with uow() as u:
        current = await u.intents.get(intent.id, for_update=True)
        current.resign(raw_tx=second.raw_tx, tx_hash=second.tx_hash, now=second.created_at)
        await u.intents.save(current)
        await u.intents.add_attempt(second)
        await u.commit()
    async with uow() as u:
        assert await u.intents.attempts(intent.id) == [first, second]
        assert await u.intents.attempts("pay-other") == []
        assert (await u.intents.get(intent.id)).tx_hash == second.tx_hash


async def test_a_lock_is_released_when_its_unit_of_work_ends(uow) -> None:
    for _ in range(2):
        async with uow() as u:
            assert await u.try_lock("reconcile:test")
            await u.commit()
    async with uow() as u:
        assert await u.try_lock("reconcile:test")
    async with uow() as u:  # left without commit: released too
        assert await u.try_lock("reconcile:test")


@pytest.mark.postgres
async def test_a_postgres_lock_is_exclusive_across_connections(new_postgres_database) -> None:
    url = new_postgres_database()
    await upgrade(url)
    engines = [create_engine_for(url), create_engine_for(url)]
    try:
        one, two = (make_uow_factory(e) for e in engines)
        async with one() as holder:
            assert await holder.try_lock("reconcile:test")
            async with two() as other:
                assert not await other.try_lock("reconcile:test")
                assert await other.try_lock("reconcile:another")
        async with two() as other:
            assert await other.try_lock("reconcile:test")
    finally:
        for e in engines:
            await e.dispose()


async def test_upgrade_keeps_the_attempt_of_a_payment_signed_before(empty_db_url: str) -> None:
    await upgrade(empty_db_url, "0005")
    engine = create_engine_for(empty_db_url)
    try:
        async with engine.begin() as c:
            at = "2026-11-28 10:00:00.000000" if engine.dialect.name == "sqlite" else NOW  # as 0005 stored them
            await c.execute(text(
                "INSERT INTO intents (id, key, actor_ref, recipient, token, amount, intent_hash, status, "
                "needs_confirmation, nonce, raw_tx, tx_hash, created_at, updated_at, submitted_at) VALUES "
                "('pay-old', 'k-old', 'console:op', '0x11', 'CRO', 1, '0x01', 'submitted', false, 4, :raw, "
                "'0xold', :at, :at, :at)"), {"raw": b"\x02old", "at": at})
        await upgrade(empty_db_url)
        async with make_uow_factory(engine)() as u:
            (kept,) = await u.intents.attempts("pay-old")
            intent = await u.intents.get("pay-old")
        assert (kept.tx_hash, kept.nonce, kept.bump, kept.raw_tx) == ("0xold", 4, 0, b"\x02old")
        assert kept.created_at == intent.submitted_at and intent.status is IntentStatus.SUBMITTED
    finally:
        await engine.dispose()
