"""The seed's notifications of issue 13's edges: withdrawal_ready after a mixer relay (once per withdrawal, never
the note) and transaction_pending for a treasury payment waiting past TX_PENDING_NOTICE_SECONDS (once per payment)."""

from __future__ import annotations

from datetime import timedelta

from core.engine import Engine
from core.model import IntentStatus, NotificationType
from core.replies import loads
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.unit.test_mixer_handlers import BOB, FRESH, OP, FakeMixer, note_in, say

ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def make(**policy: object) -> tuple[Engine, FakeChain, FakeDatabase, FakeClock]:
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), mixer=FakeMixer(chain),
                    policy=Policy(operators=frozenset({OP.ref}), **policy))  # type: ignore[arg-type]  # test knobs
    return engine, chain, db, clock


def notices(db: FakeDatabase, kind: NotificationType) -> list[tuple[str, str, str]]:
    return [(n.dedup_key, n.user_ref, loads(n.body).plain()) for n in db.store.outbox if n.type is kind]


async def test_a_withdrawal_lands_as_one_private_withdrawal_ready_dm_without_the_note():
    engine, _, db, _ = make()
    note = note_in(await say(engine, "/mix 0.1"))
    done = await say(engine, f"/withdraw {note} {FRESH}", actor=BOB, key="tg-7-1")
    assert done.kind == "ok"
    again = await say(engine, f"/withdraw {note} {FRESH}", actor=BOB, key="tg-7-1")  # the same message redelivered
    assert again.plain() == done.plain()
    (ready,) = notices(db, NotificationType.WITHDRAWAL_READY)
    key, ref, text = ready
    assert key == "withdrawal:0x" + "cd" * 32 and ref == BOB.ref
    assert "0.1 CRO received at " + FRESH in text and "relayer fee 0 CRO" in text and "0x" + "cd" * 32 in text
    assert note not in text and note[-20:] not in "".join(n.body for n in db.store.outbox)
    assert loads(db.store.outbox[-1].body).private


async def test_a_refused_withdrawal_queues_nothing():
    engine, _, db, _ = make()
    reply = await say(engine, f"/withdraw snowrail-cro-0.1-31337-0x{'ab' * 62} {FRESH}", actor=BOB)
    assert reply.kind == "error"
    assert notices(db, NotificationType.WITHDRAWAL_READY) == []


async def test_a_payment_waiting_past_the_setting_gets_one_transaction_pending_dm():
    engine, chain, db, clock = make(tx_pending_notice=timedelta(seconds=120), stuck_after=timedelta(minutes=3))
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    (intent,) = db.store.intents.values()
    clock.advance(seconds=119)
    await engine.reconcile()
    assert notices(db, NotificationType.TRANSACTION_PENDING) == []  # not yet
    clock.advance(seconds=2)
    await engine.reconcile()
    ((key, ref, text),) = notices(db, NotificationType.TRANSACTION_PENDING)
    assert key == f"{intent.id}:pending" and ref == OP.ref
    assert f"Payment {intent.id} of 1 CRO has been waiting 2 min" in text and intent.tx_hash in text
    for _ in range(3):  # more passes, and a replacement with a higher fee: still one notice
        clock.advance(minutes=2)
        await engine.reconcile()
    assert len(chain.signed) > 1
    assert len(notices(db, NotificationType.TRANSACTION_PENDING)) == 1
    chain.mine = True
    await engine.reconcile()
    await engine.reconcile()
    assert db.store.intents[intent.id].status is IntentStatus.CONFIRMED
    assert len(notices(db, NotificationType.TRANSACTION_PENDING)) == 1


async def test_a_payment_confirmed_in_time_gets_no_pending_notice():
    engine, chain, db, clock = make(tx_pending_notice=timedelta(seconds=120))
    chain.mine = False
    await say(engine, f"/pay {ADDR} 1")
    chain.mine = True
    chain.mined.clear()
    clock.advance(seconds=30)
    await engine.reconcile()
    await engine.reconcile()
    assert [i.status for i in db.store.intents.values()] == [IntentStatus.CONFIRMED]
    clock.advance(minutes=10)
    await engine.reconcile()
    assert notices(db, NotificationType.TRANSACTION_PENDING) == []
