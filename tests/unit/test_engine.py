"""The engine against fakes at its ports: /pay, idempotency, refusals, outages, linking, notifications."""

import pytest

from core.commands import Actor
from core.engine import Engine
from core.model import IntentStatus
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier, RecordingQueue

OP = Actor("console", "op", "Operator")
TG_OP = Actor("telegram", "1", "Tess", "tess")
BOB = Actor("telegram", "7", "Bob", "bob")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=Policy(operators=frozenset({OP.ref, TG_OP.ref})))
    return engine, chain, db, clock, queue


async def say(engine, text, actor=OP, key=None):
    say.n = getattr(say, "n", 0) + 1
    return await engine.handle_text(text, actor=actor, key=key or f"k{say.n}")


async def test_operator_pays_and_gets_hash_and_notifications(world):
    engine, chain, db, _, queue = world
    reply = await say(engine, f"/pay {ADDR} 1.5 CRO")
    text = reply.plain()
    assert reply.kind == "ok", text
    assert "1.5 CRO" in text and ADDR in text
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.CONFIRMED and intent.tx_hash in text
    assert chain.paid[intent.intent_hash] == 15 * 10**17
    assert [n.type.value for n in db.store.outbox] == ["payment_sent"]
    assert queue.jobs and queue.jobs[0][0] == "deliver_notifications"
    notifier = FakeNotifier()
    assert await engine.deliver_notifications(notifier) == 1
    assert await engine.deliver_notifications(notifier) == 0
    history = (await say(engine, "/history")).plain()
    assert intent.id in history and ADDR[:6] in history


async def test_redelivered_message_never_pays_twice(world):
    engine, chain, db, _, _ = world
    first = await say(engine, f"/pay {ADDR} 1", key="tg-1-100")
    again = await say(engine, f"/pay {ADDR} 1", key="tg-1-100")
    assert len(chain.signed) == 1 and len(db.store.intents) == 1
    assert "Already handled" in again.plain()
    assert first.plain().split("Tx: ")[1][:66] in again.plain()


async def test_non_operator_is_refused_and_nothing_is_made(world):
    engine, chain, db, _, _ = world
    reply = await say(engine, f"/pay {ADDR} 1", actor=BOB)
    assert reply.kind == "error" and "Only operators may spend the treasury" in reply.plain()
    assert not db.store.intents and not chain.signed
    assert db.store.audit[-1].outcome == "refused"


async def test_payment_above_treasury_is_refused_before_signing(world):
    engine, chain, db, _, _ = world
    reply = await say(engine, f"/pay {ADDR} 5000 USDC")
    assert "balance: the treasury holds 1000 USDC; this payment needs 5000 USDC" in reply.plain()
    assert not db.store.intents and not chain.signed


async def test_in_flight_payments_count_against_the_treasury(world):
    engine, chain, db, _, _ = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 600 USDC")
    reply = await say(engine, f"/pay {ADDR} 600 USDC")
    assert "600 USDC of it is committed" in reply.plain()


async def test_node_down_keeps_a_retryable_pending_payment(world):
    engine, chain, db, _, _ = world
    chain.down = True
    reply = await say(engine, f"/pay {ADDR} 1")
    assert "not answering" in reply.plain() and reply.kind == "error"
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.PENDING and not chain.signed
    chain.down = False
    done = await say(engine, f"/confirm {intent.id}")
    assert db.store.intents[intent.id].status is IntentStatus.CONFIRMED, done.plain()


async def test_pending_payment_can_be_cancelled_and_then_not_confirmed(world):
    engine, chain, db, _, _ = world
    chain.down = True
    await say(engine, f"/pay {ADDR} 1")
    chain.down = False
    (intent,) = db.store.intents.values()
    assert "Cancelled" in (await say(engine, f"/cancel {intent.id}")).plain()
    assert "Nothing to confirm" in (await say(engine, f"/confirm {intent.id}")).plain()
    assert not chain.signed


async def test_chain_rejection_fails_the_intent_without_sending(world):
    engine, chain, db, _, _ = world
    chain.reject = "the recipient refused the payment"
    reply = await say(engine, f"/pay {ADDR} 1")
    assert "recipient refused" in reply.plain()
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.FAILED and not chain.sent


async def test_database_down_gets_a_clear_reply(world):
    engine, _, db, _, _ = world
    db.down = True
    reply = await say(engine, f"/pay {ADDR} 1")
    assert "database is not answering" in reply.plain()


async def test_confirmation_threshold_asks_first(world):
    engine, chain, db, _, _ = world
    engine.services.policy = Policy(operators=frozenset({OP.ref}), confirm_above={"CRO": 10**18})
    reply = await say(engine, f"/pay {ADDR} 2")
    assert [b.label for b in reply.buttons][:2] == ["Confirm payment", "Cancel"] and not chain.signed
    (intent,) = db.store.intents.values()
    await say(engine, reply.buttons[0].command)
    assert db.store.intents[intent.id].status is IntentStatus.CONFIRMED


async def test_status_and_history_show_only_your_own(world):
    engine, _, db, _, _ = world
    await say(engine, f"/pay {ADDR} 1")
    (intent,) = db.store.intents.values()
    assert "no payment" in (await say(engine, f"/status {intent.id}", actor=BOB)).plain()
    assert "No payments yet" in (await say(engine, "/history", actor=BOB)).plain()
    assert intent.id in (await say(engine, f"/status {intent.id}")).plain()


async def test_link_then_pay_by_handle_notifies_recipient(world):
    engine, chain, db, _, _ = world
    challenge = await say(engine, f"/link {ADDR}", actor=BOB)
    assert challenge.private and "Nonce:" in challenge.plain()
    wrong = await say(engine, "/link 0x" + "11" * 45 + "22" * 20, actor=BOB)
    assert "signature:" in wrong.plain() and "nothing was linked" in wrong.plain()
    ok = await say(engine, "/link 0x" + "11" * 45 + ADDR[2:].lower(), actor=BOB)
    assert "Linked" in ok.plain()
    ask = await say(engine, "/pay @bob 2", actor=TG_OP)  # a handle: shown first, paid on /confirm
    await say(engine, ask.buttons[0].command, actor=TG_OP)
    assert {n.type.value: n.user_ref for n in db.store.outbox} == {"payment_sent": TG_OP.ref, "payment_received": BOB.ref}


async def test_reconcile_rebroadcasts_then_records(world):
    engine, chain, db, clock, _ = world
    chain.mine = False
    reply = await say(engine, f"/pay {ADDR} 1")
    assert "not confirmed yet" in reply.plain()
    chain.mine = True
    chain.mined.clear()
    assert await engine.reconcile() == 0  # re-sent the same bytes
    assert await engine.reconcile() == 1
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.CONFIRMED and len(chain.signed) == 1


async def test_reconcile_replaces_a_stuck_transaction_with_the_same_nonce(world):
    engine, chain, db, clock, _ = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    clock.advance(minutes=10)
    await engine.reconcile()
    assert [(n, b) for _, n, b in chain.signed] == [(0, 0), (0, 3)]


async def test_unknown_command_points_to_help_and_never_raises(world):
    engine, *_ = world
    for text in ["/nope", "hi", "/pay <script>", "/deposit pay-x", "/mix 0.1", "/bulk status b-1"]:
        reply = await say(engine, text)
        assert reply.plain()
    assert "/help" in (await say(engine, "/nope")).plain()
    assert "not available yet" in (await say(engine, "/mix 0.1")).plain()


async def test_unexpected_failure_is_an_apology_not_a_traceback(world):
    engine, chain, *_ = world

    async def boom(*a, **k):
        raise RuntimeError("secret internals")

    chain.balance = boom
    reply = await say(engine, f"/pay {ADDR} 1")
    assert "something went wrong" in reply.plain() and "secret" not in reply.plain()


async def test_blocked_user_is_marked_undeliverable(world):
    engine, _, db, _, _ = world
    await say(engine, f"/pay {ADDR} 1")
    notifier = FakeNotifier()
    notifier.blocked.add(OP.ref)
    assert await engine.deliver_notifications(notifier) == 0
    assert db.store.outbox[0].status.value == "undeliverable"
    assert await engine.deliver_notifications(notifier) == 0
