"""Every repository of the SQL unit of work, round-tripped through real SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from adapters.db import get_meta, set_meta
from core.model import (
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

UINT256_MAX = 2**256 - 1
T0 = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=timezone.utc)
WALLET = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def intent(n: int, **changes: object) -> Intent:
    base = Intent(
        id=f"pay-{n}",
        key=f"tg-1-{n}",
        actor_ref="telegram:1",
        recipient=WALLET,
        token="USDC",
        amount=25_000_000,
        intent_hash="0x" + f"{n:064x}",
        created_at=at(n),
        updated_at=at(n),
    )
    return dataclasses.replace(base, **changes)


def user(ref: str = "telegram:1", **changes: object) -> User:
    platform, user_id = ref.split(":")
    return dataclasses.replace(
        User(ref=ref, platform=platform, platform_user_id=user_id, display_name="Alice", handle="alice", created_at=T0),
        **changes,
    )


# ------------------------------------------------------------------ users
async def test_user_upsert_updates_names_and_keeps_the_wallet(uow) -> None:
    async with uow() as u:
        stored = await u.users.upsert(user())
        await u.commit()
    assert stored == user()
    assert stored.created_at.tzinfo is not None and stored.created_at.utcoffset() == timedelta(0)

    async with uow() as u:
        me = await u.users.get("telegram:1")
        me.wallet, me.wallet_proof, me.dm_blocked = WALLET, "I own it\n--\n0xsig", True
        await u.users.save(me)
        await u.commit()
    async with uow() as u:
        again = await u.users.upsert(user(display_name="Alice B", handle="aliceb", created_at=at(5)))
        await u.commit()
    assert again == user(display_name="Alice B", handle="aliceb", wallet=WALLET,
                         wallet_proof="I own it\n--\n0xsig", dm_blocked=True)  # fmt: skip
    async with uow() as u:
        assert await u.users.get("telegram:1") == again
        assert await u.users.get("telegram:2") is None


async def test_users_by_handle_and_by_wallet_ignore_case(uow) -> None:
    async with uow() as u:
        await u.users.upsert(user("telegram:1", handle="alice"))
        await u.users.upsert(user("discord:9", handle="alice"))
        await u.users.upsert(user("telegram:2", handle="bob"))
        await u.users.save(user("telegram:2", handle="bob", wallet=WALLET))  # save() of a known ref
        await u.users.save(user("discord:7", handle=None, wallet=WALLET.lower()))  # save() inserts if new
        await u.commit()
    async with uow() as u:
        assert [x.ref for x in await u.users.by_handle("@ALICE")] == ["discord:9", "telegram:1"]
        assert [x.ref for x in await u.users.by_handle("alice", platform="telegram")] == ["telegram:1"]
        assert await u.users.by_handle("nobody") == []
        shouted = WALLET.upper().replace("0X", "0x")
        assert [x.ref for x in await u.users.by_wallet(shouted)] == ["discord:7", "telegram:2"]


# ------------------------------------------------------------------ intents
async def test_intent_round_trips_every_field_and_uint256_max(uow) -> None:
    submitted = intent(
        1,
        amount=UINT256_MAX,
        recipient_ref="discord:9",
        memo="rent — März",
        needs_confirmation=True,
        status=IntentStatus.SUBMITTED,
        nonce=2**40,
        raw_tx=bytes(range(256)) * 3,
        tx_hash="0x" + "ab" * 32,
        fee=10**19 + 1,
        block_number=2**33,
        error="none yet",
        submitted_at=at(2).astimezone(timezone(timedelta(hours=-5))),  # stored and returned as UTC
    )
    async with uow() as u:
        await u.intents.add(submitted)
        await u.commit()
    async with uow() as u:
        loaded = await u.intents.get("pay-1")
    assert loaded == submitted
    assert loaded.amount == UINT256_MAX and type(loaded.amount) is int
    assert loaded.submitted_at.tzinfo == timezone.utc
    assert type(loaded.status) is IntentStatus

    async with uow() as u:
        assert await u.intents.get("missing") is None
        minimal = intent(2)
        await u.intents.add(minimal)
        await u.commit()
    async with uow() as u:
        assert await u.intents.get("pay-2") == minimal


async def test_intent_save_moves_it_through_its_states(uow) -> None:
    async with uow() as u:
        await u.intents.add(intent(1))
        await u.commit()
    async with uow() as u:
        current = await u.intents.get("pay-1", for_update=True)
        current.submit(nonce=7, raw_tx=b"\x02signed", tx_hash="0x" + "cd" * 32, now=at(3))
        await u.intents.save(current)
        await u.commit()
    async with uow() as u:
        stored = await u.intents.get("pay-1")
        assert stored == current and stored.status is IntentStatus.SUBMITTED
        stored.move(IntentStatus.CONFIRMED, at(4))
        stored.block_number, stored.fee = 123, 21000 * 10**9
        await u.intents.save(stored)  # not loaded in this form by this unit of work's get(): still saved
        await u.commit()
    async with uow() as u:
        assert await u.intents.get("pay-1") == stored


async def test_in_flight_sums_submitted_amounts_of_one_token_exactly(uow) -> None:
    big = 2**255 - 12345  # two of these exceed 2**256: the sum must still be exact
    async with uow() as u:
        assert await u.intents.in_flight("CRO") == 0
        await u.intents.add(intent(1, token="CRO", amount=big, status=IntentStatus.SUBMITTED))
        await u.intents.add(intent(2, token="CRO", amount=big, status=IntentStatus.SUBMITTED))
        await u.intents.add(intent(3, token="CRO", amount=10**18 + 1, status=IntentStatus.SUBMITTED))
        await u.intents.add(intent(4, token="CRO", amount=5, status=IntentStatus.PENDING))
        await u.intents.add(intent(5, token="CRO", amount=7, status=IntentStatus.CONFIRMED))
        await u.intents.add(intent(6, token="USDC", amount=11, status=IntentStatus.SUBMITTED))
        await u.commit()
    async with uow() as u:
        total = await u.intents.in_flight("CRO")
        assert total == 2 * big + 10**18 + 1 and type(total) is int
        assert await u.intents.in_flight("USDC") == 11
        assert await u.intents.in_flight("USDT") == 0


async def test_for_actor_gives_own_and_received_intents_newest_first(uow) -> None:
    async with uow() as u:
        await u.intents.add(intent(1, actor_ref="telegram:1"))
        await u.intents.add(intent(2, actor_ref="telegram:2", recipient_ref="telegram:1"))
        await u.intents.add(intent(3, actor_ref="telegram:2", recipient_ref="discord:9"))
        await u.intents.add(intent(4, actor_ref="telegram:1", recipient_ref="telegram:2"))
        await u.intents.add(intent(5, actor_ref="discord:9"))
        await u.commit()
    async with uow() as u:
        assert [i.id for i in await u.intents.for_actor("telegram:1", 10)] == ["pay-4", "pay-2", "pay-1"]
        assert [i.id for i in await u.intents.for_actor("telegram:1", 2)] == ["pay-4", "pay-2"]
        assert [i.id for i in await u.intents.for_actor("telegram:2", 10)] == ["pay-4", "pay-3", "pay-2"]
        assert await u.intents.for_actor("telegram:404", 10) == []


async def test_with_status_lists_oldest_first(uow) -> None:
    async with uow() as u:
        for n, status in enumerate([IntentStatus.SUBMITTED, IntentStatus.PENDING, IntentStatus.SUBMITTED]):
            await u.intents.add(intent(10 - n, status=status))
        await u.commit()
    async with uow() as u:
        assert [i.id for i in await u.intents.with_status(IntentStatus.SUBMITTED)] == ["pay-8", "pay-10"]
        assert [i.id for i in await u.intents.with_status(IntentStatus.SUBMITTED, limit=1)] == ["pay-8"]
        assert await u.intents.with_status(IntentStatus.FAILED) == []


# ------------------------------------------------------------------ idempotency keys
async def test_a_repeated_processed_key_raises_duplicate_key(uow) -> None:
    first = ProcessedKey("tg-1-100", "pay", "telegram:1", T0, intent_id="pay-1", reply='{"text": "ok"}')
    async with uow() as u:
        await u.keys.add(first)
        await u.commit()
    async with uow() as u:
        with pytest.raises(DuplicateKey):
            await u.keys.add(ProcessedKey("tg-1-100", "pay", "telegram:1", at(1)))
        # The transaction is still usable: the first outcome can be read in it.
        assert await u.keys.get("tg-1-100") == first
    async with uow() as u:
        record = await u.keys.get("tg-1-100")
        record.reply = '{"text": "done"}'
        await u.keys.save(record)
        await u.commit()
    async with uow() as u:
        assert (await u.keys.get("tg-1-100")).reply == '{"text": "done"}'
        assert await u.keys.get("tg-1-101") is None


async def test_an_intent_under_a_used_key_raises_duplicate_key_on_commit(uow) -> None:
    async with uow() as u:
        await u.intents.add(intent(1))
        await u.commit()
    with pytest.raises(DuplicateKey):
        async with uow() as u:
            await u.intents.add(intent(2, key=intent(1).key))  # queued, not yet sent
            await u.commit()
    async with uow() as u:
        assert await u.intents.get("pay-2") is None


async def test_two_concurrent_units_with_the_same_key_record_it_once(uow) -> None:
    import asyncio

    outcomes: list[str] = []

    async def record(n: int) -> None:
        try:
            async with uow() as u:
                await u.keys.add(ProcessedKey("dc-777", "pay", f"discord:{n}", at(n)))
                await asyncio.sleep(0.05)  # hold the key uncommitted while the other one arrives
                await u.commit()
            outcomes.append("recorded")
        except DuplicateKey:
            outcomes.append("duplicate")

    await asyncio.gather(record(1), record(2))
    assert sorted(outcomes) == ["duplicate", "recorded"]


# ------------------------------------------------------------------ outbox
def note(key: str, minutes: int = 0, **changes: object) -> Notification:
    base = Notification(key, "telegram:1", NotificationType.PAYMENT_SENT, '{"text": "sent"}', at(minutes))
    return dataclasses.replace(base, **changes)


async def test_outbox_ignores_a_duplicate_dedup_key(uow) -> None:
    async with uow() as u:
        first = note("sent:pay-1")
        await u.outbox.add(first)
        await u.outbox.add(note("sent:pay-1", body='{"text": "again"}'))  # ignored, no error
        await u.commit()
    async with uow() as u:
        await u.outbox.add(note("sent:pay-1", body='{"text": "later"}'))  # ignored across transactions too
        await u.outbox.add(note("received:pay-1", 1, user_ref="discord:9", type=NotificationType.PAYMENT_RECEIVED))
        await u.commit()
    async with uow() as u:
        pending = await u.outbox.pending()
    assert [(n.dedup_key, n.body) for n in pending] == [
        ("sent:pay-1", '{"text": "sent"}'),
        ("received:pay-1", '{"text": "sent"}'),
    ]
    assert pending[0] == first and first.id is not None
    assert pending[1].type is NotificationType.PAYMENT_RECEIVED


async def test_outbox_save_records_delivery(uow) -> None:
    async with uow() as u:
        for n in range(3):
            await u.outbox.add(note(f"n{n}", n))
        await u.commit()
    async with uow() as u:
        first, second, _ = await u.outbox.pending(limit=10)
        first.status, first.sent_at, first.attempts = DeliveryStatus.SENT, at(9), 1
        second.status, second.attempts, second.last_error = DeliveryStatus.UNDELIVERABLE, 3, "blocked"
        await u.outbox.save(first)
        await u.outbox.save(second)
        await u.commit()
    async with uow() as u:
        assert [n.dedup_key for n in await u.outbox.pending()] == ["n2"]
        assert [n.dedup_key for n in await u.outbox.pending(limit=0)] == []


# ------------------------------------------------------------------ audit, challenges, meta
async def test_audit_recent_is_newest_first(uow) -> None:
    async with uow() as u:
        for n in range(5):
            await u.audit.add(AuditEntry("telegram:1", "pay", f"k{n}", "ok", f"detail {n}", at(n)))
        await u.commit()
    async with uow() as u:
        recent = await u.audit.recent(limit=2)
    assert [e.key for e in recent] == ["k4", "k3"]
    assert recent[0] == AuditEntry("telegram:1", "pay", "k4", "ok", "detail 4", at(4), id=recent[0].id)


async def test_latest_challenge_is_the_newest_unused_one(uow) -> None:
    older = LinkChallenge("link-1", "telegram:1", WALLET, "sign me 1", at(0), at(10))
    newer = LinkChallenge("link-2", "telegram:1", WALLET, "sign me 2", at(1), at(11))
    async with uow() as u:
        assert await u.challenges.latest("telegram:1") is None
        await u.challenges.add(older)
        await u.challenges.add(newer)
        await u.challenges.add(LinkChallenge("link-3", "telegram:2", WALLET, "other", at(2), at(12)))
        await u.commit()
    async with uow() as u:
        latest = await u.challenges.latest("telegram:1")
        assert latest == newer
        latest.used = True
        await u.challenges.save(latest)
        await u.commit()
    async with uow() as u:
        assert await u.challenges.latest("telegram:1") == older


async def test_meta_through_an_engine_and_a_unit_of_work(engine, uow) -> None:
    assert await get_meta(engine, "chain_id") is None
    await set_meta(engine, "chain_id", "31337")
    await set_meta(engine, "chain_id", "25")
    assert await get_meta(engine, "chain_id") == "25"
    async with uow() as u:
        await set_meta(u.session, "treasury", WALLET)
        assert await get_meta(u.session, "treasury") == WALLET
        # not committed: gone when the unit of work ends
    assert await get_meta(engine, "treasury") is None


# ------------------------------------------------------------------ transactions
async def test_leaving_without_commit_rolls_back(uow) -> None:
    async with uow() as u:
        await u.intents.add(intent(1))
        await u.keys.add(ProcessedKey("k", "pay", "telegram:1", T0))
        await u.outbox.add(note("n"))
        await u.users.upsert(user())
    with pytest.raises(RuntimeError):
        async with uow() as u:
            await u.intents.add(intent(2))
            await u.commit()
            await u.intents.add(intent(3))
            raise RuntimeError("handler failed after its first commit")
    async with uow() as u:
        await u.intents.add(intent(4))
        await u.rollback()
        await u.commit()  # commits nothing: the rollback discarded pay-4
    async with uow() as u:
        assert await u.intents.get("pay-1") is None
        assert await u.keys.get("k") is None
        assert await u.outbox.pending() == []
        assert await u.users.get("telegram:1") is None
        assert await u.intents.get("pay-2") is not None
        assert await u.intents.get("pay-3") is None
        assert await u.intents.get("pay-4") is None


async def test_naive_timestamps_are_refused(uow) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        async with uow() as u:
            await u.audit.add(AuditEntry("telegram:1", "pay", "k", "ok", "", datetime(2026, 1, 1)))
            await u.commit()
