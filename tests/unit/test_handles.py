"""Paying people by @handle or mention (finding H4), and the chat texts fixed with it, against fakes at the ports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.commands import Actor
from core.engine import Engine
from core.model import Intent, IntentStatus
from core.money import format_significant
from core.services import Policy
from core.views import counted, intent_detail
from tests import fakes
from tests.fakes import EXECUTOR, TREASURY, FakeChain, FakeClock, FakeDatabase, RecordingQueue

TG_OP = Actor("telegram", "1", "Tess", "tess")
DC_OP = Actor("discord", "2", "Dana", "dana")
TG_ALICE = Actor("telegram", "5", "Alice", "alice")
DC_ALICE = Actor("discord", "9", "Alice on Discord", "alice")
TG_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
DC_WALLET = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
MALLORY_WALLET = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


@pytest.fixture
def world():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    policy = Policy(operators=frozenset({TG_OP.ref, DC_OP.ref}))
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), policy=policy)
    return engine, chain, db, clock


class Say(fakes.Say):
    actor, prefix = TG_OP, "h"


async def link(say: Say, actor: Actor, address: str) -> None:
    await say(f"/link {address}", actor)
    # FakeChain's convention: the last 40 hex digits of the "signature" are the signer.
    assert "Linked" in (await say("/link 0x" + "11" * 45 + address[2:].lower(), actor)).plain()


async def test_h4_handle_resolves_only_on_the_callers_platform(world):
    engine, chain, db, _ = world
    say = Say(engine)
    await link(say, DC_ALICE, DC_WALLET)  # only Discord has an alice with a wallet

    from_telegram = await say("/pay @alice 1")
    assert from_telegram.kind == "error" and "address: @alice has no linked wallet on Telegram" in from_telegram.plain()
    assert DC_WALLET not in from_telegram.plain()
    assert not db.store.intents and not chain.signed

    # A Discord mention (as the Discord adapter hands it to the core) typed on Telegram names nobody here either,
    # and neither does Discord's own mention syntax, which only the Discord adapter reads.
    mention = await say(f"/pay discord:{DC_ALICE.user_id} 1")
    assert mention.kind == "error" and "address:" in mention.plain() and "Discord mention" in mention.plain()
    raw = await say(f"/pay <@{DC_ALICE.user_id}> 1")
    assert raw.kind == "error" and "address:" in raw.plain() and DC_WALLET not in raw.plain()
    assert not db.store.intents and not chain.signed

    # Once Telegram has its own alice, Telegram's /pay @alice reaches her, never the Discord account.
    await link(say, TG_ALICE, TG_WALLET)
    ask = await say("/pay @alice 1")
    (intent,) = db.store.intents.values()
    assert intent.recipient == TG_WALLET and intent.recipient_ref == TG_ALICE.ref
    assert "@alice (telegram:5)" in ask.plain() and DC_WALLET not in ask.plain()

    # And on Discord, @alice and a mention both resolve to the Discord account.
    on_discord = await say("/pay @alice 1", DC_OP)
    by_mention = await say(f"/pay discord:{DC_ALICE.user_id} 1", DC_OP)  # a mention, as the Discord adapter sends it
    for reply in (on_discord, by_mention):
        assert "@alice (discord:9)" in reply.plain() and DC_WALLET in reply.plain()
    assert {i.recipient for i in db.store.intents.values() if i.actor_ref == DC_OP.ref} == {DC_WALLET}


async def test_h4_stale_handle_needs_confirmation(world):
    engine, chain, db, clock = world
    say = Say(engine)
    await link(say, TG_ALICE, TG_WALLET)
    clock.advance(days=31)  # alice has not written since: her handle may have changed hands

    ask = await say("/pay @alice 1")
    text = ask.plain()
    assert "Stale handle" in text and "in the last 30 days" in text and "last seen 2026-11-26" in text, text
    assert TG_WALLET in text and [b.label for b in ask.buttons][:2] == ["Confirm payment", "Cancel"]
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.PENDING and intent.needs_confirmation and not chain.signed

    await say(ask.buttons[0].command)  # the payer checked the address and confirms
    assert db.store.intents[intent.id].status is IntentStatus.CONFIRMED and chain.paid

    # alice writes to the bot again: her handle is fresh, and the warning goes.
    await say("/wallet", TG_ALICE)
    fresh = await say("/pay @alice 1")
    assert "Stale handle" not in fresh.plain() and "Check that the address below is theirs" in fresh.plain()


async def test_h4_handle_that_changed_hands_no_longer_pays_the_old_holder(world):
    engine, chain, db, clock = world
    say = Say(engine)
    await link(say, TG_ALICE, TG_WALLET)
    clock.advance(days=40)
    # alice renamed herself; mallory registered the freed username and talks to the bot.
    new_mallory = Actor("telegram", "66", "Mallory", "alice")
    await say("/start", new_mallory)
    assert db.store.users[TG_ALICE.ref].handle is None

    reply = await say("/pay @alice 1")
    assert "no linked wallet on Telegram" in reply.plain() and TG_WALLET not in reply.plain()
    assert not db.store.intents

    await link(say, new_mallory, MALLORY_WALLET)
    ask = await say("/pay @alice 1")
    assert "@alice (telegram:66)" in ask.plain() and MALLORY_WALLET in ask.plain() and "Stale" not in ask.plain()
    assert not chain.signed  # and still nothing moves before the payer confirms the address shown


async def test_h4_handle_payment_shows_address_before_paying(world):
    engine, chain, db, _ = world
    say = Say(engine)
    await link(say, TG_ALICE, TG_WALLET)

    ask = await say("/pay @alice 2.5")
    text = ask.plain()
    assert "Confirm: pay 2.5 CRO to @alice (telegram:5)?" in text, text
    assert f"To: @alice (telegram:5) at {TG_WALLET}" in text
    assert "Stale" not in text
    assert [b.label for b in ask.buttons][:2] == ["Confirm payment", "Cancel"]
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.PENDING and not chain.signed and not chain.sent

    done = await say(ask.buttons[0].command)
    assert db.store.intents[intent.id].status is IntentStatus.CONFIRMED, done.plain()
    assert [order.recipient for order, _, _ in chain.signed] == [TG_WALLET]


async def test_paying_an_address_directly_needs_no_confirmation(world):
    engine, chain, db, _ = world
    reply = await Say(engine)(f"/pay {TG_WALLET} 1")
    assert reply.kind == "ok" and len(chain.signed) == 1


@pytest.mark.parametrize("address, who", [(TREASURY, "treasury"), (EXECUTOR, "executor")])
async def test_pay_to_the_treasury_or_the_executor_is_refused(world, address, who):
    engine, chain, db, _ = world
    reply = await Say(engine)(f"/pay {address.upper().replace('0X', '0x')} 1")
    assert reply.kind == "error" and reply.plain().startswith("address: ") and f"the {who}'s" in reply.plain()
    assert not db.store.intents and not chain.signed


async def test_a_handle_linked_to_the_treasury_is_refused_too(world):
    engine, chain, db, _ = world
    say = Say(engine)
    await link(say, TG_ALICE, TREASURY)
    reply = await say("/pay @alice 1")
    assert "address: that is the treasury's own address" in reply.plain() and not db.store.intents


@pytest.mark.parametrize("chain_id, name", [(25, "Cronos"), (338, "Cronos testnet"), (31337, "local dev chain (id 31337)")])
async def test_start_names_the_chain(world, chain_id, name):
    engine, chain, _, _ = world
    chain.chain_id = chain_id
    text = (await Say(engine)("/start")).plain()
    assert f"settled on {name}." in text, text


async def test_fees_show_at_most_six_significant_digits(world):
    _, chain, _, clock = world
    assert format_significant(123456789012345678, 18) == "0.123457"
    assert format_significant(123456789012345, 18) == "0.000123457"
    assert format_significant(10**15, 18) == "0.001"
    assert format_significant(1234567890123456789012, 18) == "1234.57"
    assert format_significant(12345678 * 10**18, 18) == "12345678"  # the whole part is never rounded
    intent = Intent("pay-x", "k", TG_OP.ref, TG_WALLET, "CRO", 10**18, "0x" + "00" * 32, clock.now(), clock.now(),
                    status=IntentStatus.CONFIRMED, fee=123456789012345678, tx_hash="0x" + "ab" * 32)
    assert "Network fee: 0.123457 CRO" in intent_detail(chain, intent).plain()


async def test_counts_are_singular_for_one(world):
    engine, *_ = world
    assert [counted(0, "row"), counted(1, "row"), counted(1234, "row")] == ["0 rows", "1 row", "1,234 rows"]
    say = Say(engine)
    await say(f"/pay {TG_WALLET} 1")
    assert "Your last 1 payment:" in (await say("/history")).plain()
    assert "expires in 15 minutes" in (await say(f"/link {TG_WALLET}", TG_ALICE)).plain()


async def test_help_offers_deposit_and_release_now_that_intents_work(world):
    engine, *_ = world
    say = Say(engine)
    listing = (await say("/help")).plain()
    assert "/deposit" in listing and "/release" in listing and "/pay" in listing
    assert "not available yet" not in (await say("/help deposit")).plain()


async def test_history_status_and_an_operators_wallet_are_private(world):
    engine, _, db, _ = world
    say = Say(engine)
    await say(f"/pay {TG_WALLET} 1")
    (intent,) = db.store.intents.values()
    assert (await say("/history")).private
    assert (await say("/history", TG_ALICE)).private  # even "No payments yet"
    assert (await say(f"/status {intent.id}")).private
    assert (await say("/wallet")).private
    assert not (await say("/wallet", TG_ALICE)).private  # no treasury in it: a plain reply


async def test_handle_seen_at_is_refreshed_without_a_write_per_message(world):
    engine, _, db, clock = world
    say = Say(engine)
    await say("/start", TG_ALICE)
    first = db.store.users[TG_ALICE.ref].handle_seen_at
    clock.advance(minutes=5)
    await say("/help", TG_ALICE)
    assert db.store.users[TG_ALICE.ref].handle_seen_at == first  # cached: no write for a chatty user
    clock.advance(hours=2)
    await say("/help", TG_ALICE)
    assert db.store.users[TG_ALICE.ref].handle_seen_at == clock.now() == first + timedelta(hours=2, minutes=5)
