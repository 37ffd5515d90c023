"""Settling payments truthfully (issue 9, H2/H3/M2) against fakes: what a reply says is what then happens."""

from __future__ import annotations

import pytest

from core.commands import Actor
from core.engine import Engine
from core.payments.reconcile import lock_name
from core.model import IntentStatus, Receipt
from core.replies import loads
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.unit.test_mixer_handlers import FakeMixer, note_in

OP = Actor("console", "op", "Operator")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OUT_OF_GAS = "the executor account 0xE1 does not hold enough of the native coin to pay the network fee; top it up"


@pytest.fixture
def world():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    mixer = FakeMixer(chain)
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(),
                    policy=Policy(operators=frozenset({OP.ref})), mixer=mixer)
    return engine, chain, db, clock


async def say(engine, text, key=None):
    say.n = getattr(say, "n", 0) + 1
    return await engine.handle_text(text, actor=OP, key=key or f"st{say.n}")


def only_intent(db):
    (intent,) = db.store.intents.values()
    return intent


def outbox(db) -> dict[str, str]:
    return {n.type.value: loads(n.body).plain() for n in db.store.outbox}


async def in_flight(engine, token="CRO") -> int:
    async with engine.services.uow() as uow:
        return await uow.intents.in_flight(token)


# ------------------------------------------------------------------ H2
async def test_h2_broadcast_refusal_is_reported_pending(world):
    """The node refuses the stored transaction: the reply says pending, with the node's reason, and that it
    is sent again automatically; /status says the same; reconcile then sends it, and it is paid once."""
    engine, chain, db, _ = world
    chain.refuse_broadcast = OUT_OF_GAS
    reply = await say(engine, f"/pay {ADDR} 1")
    text = reply.plain()
    assert reply.kind != "error", text
    assert "Pending" in text and OUT_OF_GAS in text and "again automatically" in text, text
    intent = only_intent(db)
    assert intent.status is IntentStatus.SUBMITTED and not chain.paid
    status = (await say(engine, f"/status {intent.id}")).plain()
    assert "submitted" in status and OUT_OF_GAS in status and "sent again automatically" in status, status

    chain.refuse_broadcast = None  # the executor was topped up
    assert await engine.reconcile() == 0  # sent again: the very bytes that were signed
    assert await engine.reconcile() == 1
    done = only_intent(db)
    assert done.status is IntentStatus.CONFIRMED and done.error is None
    assert len(chain.signed) == 1 and chain.paid == {intent.intent_hash: 10**18}
    assert "confirmed" in outbox(db)["payment_sent"]
    assert "Reason" not in (await say(engine, f"/status {intent.id}")).plain()


async def test_h2_a_refusal_that_can_never_be_sent_is_reported_failed_and_never_sent_again(world):
    """Another transaction already used the reserved nonce: the stored transaction can never be mined, so the
    reply says failed (nothing paid), and reconcile never sends it again."""
    engine, chain, db, _ = world
    chain.nonces_used.add(0)  # someone else's transaction took the executor's nonce 0
    reply = await say(engine, f"/pay {ADDR} 1")
    text = reply.plain()
    assert reply.kind == "error" and "never sent" in text and "Nothing was paid" in text, text
    intent = only_intent(db)
    assert intent.status is IntentStatus.FAILED and await in_flight(engine) == 0
    assert "never sent" in outbox(db)["transaction_failed"]
    assert await engine.reconcile() == 0
    assert chain.sent == [] and not chain.paid


async def test_h2_a_nonce_taken_while_pending_fails_truthfully_in_reconcile(world):
    engine, chain, db, _ = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    assert only_intent(db).status is IntentStatus.SUBMITTED and await in_flight(engine) == 10**18
    chain.nonces_used.add(0)  # its nonce went to another transaction; none of ours has a receipt
    sent_before = len(chain.sent)
    assert await engine.reconcile() == 1
    intent = only_intent(db)
    assert intent.status is IntentStatus.FAILED and "never sent" in intent.error
    assert await in_flight(engine) == 0 and len(chain.sent) == sent_before
    status = (await say(engine, f"/status {intent.id}")).plain()
    assert "failed" in status and "never mined" in status
    assert "never sent" in outbox(db)["transaction_failed"]


# ------------------------------------------------------------------ H3
async def test_h3_reverted_payment_that_was_paid_is_recorded_paid(world):
    """A copy of the signed authorisation is mined first; ours reverts as already executed. The payment is
    paid: it is recorded confirmed, with the transaction that paid it."""
    engine, chain, db, _ = world
    chain.front_run = True
    reply = await say(engine, f"/pay {ADDR} 1")
    intent = only_intent(db)
    payer = chain.paid_tx[intent.intent_hash]
    assert reply.kind == "ok" and payer in reply.plain(), reply.plain()
    assert intent.status is IntentStatus.CONFIRMED and intent.tx_hash == payer
    assert "paid by another transaction" in intent.error
    assert payer in outbox(db)["payment_sent"] and "transaction_failed" not in outbox(db)


async def test_h3_reconcile_checks_the_contract_before_failing(world):
    engine, chain, db, _ = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    chain.mine, chain.front_run = True, True
    await engine.reconcile()  # re-sent: a copy pays first, ours is mined and reverts
    await engine.reconcile()
    intent = only_intent(db)
    assert intent.status is IntentStatus.CONFIRMED, intent.error
    assert intent.tx_hash == chain.paid_tx[intent.intent_hash] and await in_flight(engine) == 0


async def test_h3_mixer_deposit_paid_by_a_copy_is_recorded_paid_and_the_note_handed_out(world):
    engine, chain, db, _ = world
    chain.front_run = True
    reply = await say(engine, "/mix 0.1")
    intent = only_intent(db)
    assert intent.status is IntentStatus.CONFIRMED and intent.tx_hash == chain.paid_tx[intent.intent_hash]
    assert reply.kind == "ok" and note_in(reply) and "Deposited" in reply.plain(), reply.plain()


# ------------------------------------------------------------------ M2
async def test_m2_every_attempt_is_reconciled(world):
    """A stuck payment is replaced with a higher fee; then the EARLIER attempt is mined and reverts. The intent
    leaves submitted (failed, after checking the contract did not pay it) and is no longer in flight."""
    engine, chain, db, clock = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    first = only_intent(db).tx_hash
    clock.advance(minutes=10)
    await engine.reconcile()
    second = only_intent(db).tx_hash
    assert second != first and await in_flight(engine) == 10**18
    chain.mined[first] = Receipt(first, False, 9, 50_000, 10**15, "the recipient refused the payment")
    assert await engine.reconcile() == 1
    intent = only_intent(db)
    assert intent.status is IntentStatus.FAILED and intent.tx_hash == first
    assert intent.error == "the recipient refused the payment" and await in_flight(engine) == 0
    attempts = db.store.attempts
    assert [(a.tx_hash, a.nonce, a.bump) for a in attempts] == [(first, 0, 0), (second, 0, 3)]
    assert attempts[1].max_fee > attempts[0].max_fee and attempts[0].raw_tx == first.encode()


async def test_m2_an_earlier_attempt_that_paid_is_recorded_with_its_own_hash(world):
    engine, chain, db, clock = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    first = only_intent(db).tx_hash
    clock.advance(minutes=10)
    await engine.reconcile()
    chain.mine = True
    await chain.broadcast(first.encode())  # the first attempt is the one mined
    assert await engine.reconcile() == 1
    intent = only_intent(db)
    assert intent.status is IntentStatus.CONFIRMED and intent.tx_hash == first and intent.error is None


async def test_m2_bumps_grow_from_the_last_attempt(world):
    engine, chain, db, clock = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    for _ in range(2):
        clock.advance(minutes=4)
        await engine.reconcile()
    assert [(n, b) for _, n, b in chain.signed] == [(0, 0), (0, 1), (0, 2)]
    assert [a.bump for a in db.store.attempts] == [0, 1, 2]


async def test_m2_reconcile_leaves_payments_alone_while_another_process_holds_the_lock(world):
    engine, chain, db, clock = world
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    clock.advance(minutes=10)
    async with db() as other:
        assert await other.try_lock(lock_name(engine.services))
        assert await engine.reconcile() == 0
        assert len(chain.signed) == 1  # no replacement while the other holds it
    await engine.reconcile()
    assert len(chain.signed) == 2


async def test_h2_a_refused_mixer_deposit_is_reported_pending_and_the_note_kept(world):
    engine, chain, db, _ = world
    chain.refuse_broadcast = OUT_OF_GAS
    reply = await say(engine, "/mix 0.1")
    text = reply.plain()
    assert note_in(reply) and "not on chain yet" in text and OUT_OF_GAS in text and "again automatically" in text
    assert only_intent(db).status is IntentStatus.SUBMITTED
    chain.refuse_broadcast = None
    await engine.reconcile()
    await engine.reconcile()
    assert only_intent(db).status is IntentStatus.CONFIRMED
