"""Recipients told (payment_received per recipient per batch), /history across payments and batches, /ledger."""

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest

from core.bulk.policy import BulkPolicy
from core.commands import Actor, Ledger
from core.engine import Engine
from core.errors import UsageError
from core.jobs import Job
from core.model import Intent, IntentStatus, Notification, NotificationType, User
from core.notifications import RECEIVED_ROWS_SHOWN, deliver
from core.parsing import parse
from core.replies import dumps, loads, Reply
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier, RecordingQueue
from tests.unit.test_bulk_engine import addr, batch_id_of, run_jobs

OP = Actor("console", "op", "Operator")
APPROVER = Actor("telegram", "30", "Ann", "ann")
ALICE = Actor("telegram", "1", "Alice", "alice")
ALICE_DC = Actor("discord", "11", "Alice", "alice")  # the same person on Discord: the same wallet
BOB = Actor("telegram", "2", "Bob", "bob")
CAROL = Actor("telegram", "3", "Carol", "carol")  # linked, but has blocked the bot


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    policy = Policy(operators=frozenset({OP.ref}), approvers=frozenset({APPROVER.ref}), bot_name="Acme Treasury")
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=policy)
    engine.services.bulk = BulkPolicy(chunk_size=2, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    for actor, wallet, blocked in ((ALICE, addr(0), False), (ALICE_DC, addr(0), False), (BOB, addr(1), False),
                                   (CAROL, addr(3), True)):
        db.store.users[actor.ref] = User(actor.ref, actor.platform, actor.user_id, actor.display_name, actor.handle,
                                         wallet=wallet, dm_blocked=blocked, created_at=clock.now())
    return engine, chain, db, clock, queue


def received(db: FakeDatabase) -> list[Notification]:
    return [n for n in db.store.outbox if n.type is NotificationType.PAYMENT_RECEIVED]


async def run_batch(engine, queue, lines: list[str], key: str = "k") -> str:
    data = ("recipient,amount,token,memo\n" + "".join(line + "\n" for line in lines)).encode()
    bid = batch_id_of(await engine.bulk_upload(OP, f"{key}-up", "pay.csv", data))
    for n in range(2):  # a file naming someone twice asks to be confirmed once more
        await engine.handle_text(f"/bulk execute {bid}", actor=OP, key=f"{key}-go{n}")
    await run_jobs(engine, queue)
    return bid


MIXED = [f"{addr(0)},1,CRO,March salary", f"{addr(1)},2,USDC,", f"{addr(2)},3,CRO,", f"{addr(3)},4,CRO,",
         f"{addr(0)},2.5,USDC,March expenses"]


async def test_each_linked_recipient_is_told_once_per_batch_with_all_their_rows(world):
    engine, chain, db, _, queue = world
    bid = await run_batch(engine, queue, MIXED)
    assert db.store.batches[bid].paid == 5
    told = received(db)
    # Alice (two accounts, one wallet, rows in two chunks) once; Bob once; Carol blocked us; addr(2) is nobody's.
    assert sorted(n.user_ref for n in told) == [ALICE_DC.ref, BOB.ref]
    alice = loads(next(n.body for n in told if n.user_ref == ALICE_DC.ref))
    text = alice.plain()
    assert "You received 1 CRO and 2.5 USDC in 2 payouts from Acme Treasury" in text and bid in text
    assert "March salary" in text and "March expenses" in text and alice.private
    row_hashes = {r.tx_hash for r in db.store.batch_rows[bid] if r.recipient == addr(0)}
    assert len(row_hashes) == 2 and all(h in text for h in row_hashes)  # each payout's transaction
    # Another worker seeing the batch complete (or a repeated finish) queues nothing more.
    from core.bulk import settle

    assert await settle._finish_if_complete(engine.services, bid)
    await run_jobs(engine, queue)
    assert len(received(db)) == 2


async def test_a_retry_round_tells_only_about_rows_paid_in_it(world):
    engine, chain, db, _, queue = world
    chain.refuse.add(addr(1))
    bid = await run_batch(engine, queue, MIXED)
    assert [n.user_ref for n in received(db)] == [ALICE_DC.ref]
    chain.refuse.clear()
    queue.jobs.clear()
    await engine.handle_text(f"/bulk retry {bid}", actor=OP, key="retry")
    await run_jobs(engine, queue)
    told = received(db)
    assert [n.user_ref for n in told] == [ALICE_DC.ref, BOB.ref]
    assert "2 USDC" in loads(told[1].body).plain() and "CRO" not in loads(told[1].body).plain()


async def test_a_recipient_with_many_rows_gets_one_short_dm(world):
    engine, _, db, _, queue = world
    await run_batch(engine, queue, [f"{addr(1)},0.1,CRO,row {i}" for i in range(25)])
    (dm,) = received(db)
    text = loads(dm.body).plain()
    assert "You received 2.5 CRO in 25 payouts" in text
    assert text.count("• ") == RECEIVED_ROWS_SHOWN and f"and {25 - RECEIVED_ROWS_SHOWN} more" in text


async def test_a_single_payment_tells_its_linked_recipient_the_same_way(world):
    engine, _, db, _, _ = world
    reply = await engine.handle_text(f"/pay {addr(1)} 5 USDC", actor=OP, key="p1")
    assert reply.kind == "ok", reply.plain()
    (dm,) = received(db)
    assert dm.user_ref == BOB.ref and "You received 5 USDC from Acme Treasury" in loads(dm.body).plain()


async def test_delivery_hands_the_rest_to_another_run_when_it_reaches_its_limit(world):
    engine, _, db, clock, queue = world
    body = dumps(Reply.of("hi"))
    db.store.outbox = [Notification(f"n{i}", BOB.ref, NotificationType.PAYMENT_RECEIVED, body, clock.now(), id=i + 1)
                       for i in range(5)]
    notifier = FakeNotifier()
    assert await deliver(engine.services, notifier, limit=3) == 3
    assert [j[0] for j in queue.jobs] == [Job.DELIVER_NOTIFICATIONS]
    queue.jobs.clear()
    assert await deliver(engine.services, notifier, limit=3) == 2  # all done: no further run asked for
    assert queue.jobs == []


# ---------------------------------------------------------------- /history
async def test_history_merges_payments_received_rows_and_batches_newest_first(world):
    engine, _, db, clock, queue = world
    await engine.handle_text(f"/pay {addr(0)} 1 CRO", actor=OP, key="p1")
    clock.advance(minutes=1)
    bid = await run_batch(engine, queue, MIXED)
    clock.advance(minutes=1)
    await engine.handle_text(f"/pay {addr(0)} 7 CRO", actor=OP, key="p2")
    mine = (await engine.handle_text("/history", actor=ALICE, key="h1")).plain().splitlines()
    assert mine[0] == "Your last 4 payments:"
    assert "7 CRO ←" in mine[1] and f"{bid}:" in mine[2] and f"{bid}:" in mine[3] and "1 CRO ←" in mine[4]
    assert sorted(line.split("✅ paid  ")[1].split(" ← ")[0] for line in mine[2:4]) == ["1 CRO", "2.5 USDC"]
    limited = (await engine.handle_text("/history 2", actor=ALICE, key="h2")).plain().splitlines()
    assert limited[0] == "Your last 2 payments:" and len(limited) == 3 and "7 CRO" in limited[1]
    ops = (await engine.handle_text("/history 2", actor=OP, key="h3")).plain().splitlines()
    assert "pay-" in ops[1] and ops[2].startswith(bid) and "bulk done (5 paid, 0 failed)" in ops[2]


# ---------------------------------------------------------------- /ledger
async def test_members_are_refused_the_ledger_and_told_why(world):
    engine, _, db, _, _ = world
    reply = await engine.handle_text("/ledger", actor=ALICE, key="l1")
    assert reply.kind == "error" and "Only admins, approvers and operators" in reply.plain() and "member" in reply.plain()
    assert db.store.audit[-1].outcome == "refused"


async def test_the_ledger_lists_every_outflow_newest_first_with_limit_and_token(world):
    engine, _, db, clock, queue = world
    await engine.handle_text(f"/pay {addr(5)} 1 CRO", actor=OP, key="p1")
    clock.advance(minutes=1)
    bid = await run_batch(engine, queue, MIXED)
    clock.advance(minutes=1)
    mix = Intent("mix-abcdefgh", "mk", OP.ref, addr(9), "CRO", 10**17, "0x" + "ab" * 32, clock.now(), clock.now(),
                 status=IntentStatus.CONFIRMED, tx_hash="0x" + "cd" * 32, memo="mixer deposit", mixer_commitment="0x01")
    waiting = replace(mix, id="pay-waiting", key="wk", intent_hash="0x" + "ef" * 32, status=IntentStatus.PENDING,
                      mixer_commitment=None)
    db.store.intents.update({mix.id: mix, waiting.id: waiting})
    reply = await engine.handle_text("/ledger", actor=APPROVER, key="l1")
    lines = reply.plain().splitlines()
    assert reply.private and lines[0] == "Treasury ledger: the last 7 outflows, newest first"
    assert "mixer  mix-abcdefgh" in lines[1] and "0.1 CRO" in lines[1]
    assert all(f"bulk  {bid}:" in line for line in lines[2:7]) and "payment  pay-" in lines[7]
    assert "pay-waiting" not in reply.plain()  # not signed: not an outflow
    assert lines[-1] == "Paid in these: 9.1 CRO · 4.5 USDC."
    assert reply.buttons[0].command == "/ledger export"
    usdc = (await engine.handle_text("/ledger 1 usdc", actor=OP, key="l2")).plain().splitlines()
    assert usdc[0] == "Treasury ledger of USDC: the last outflow" and "USDC" in usdc[1] and len(usdc) == 3


async def test_ledger_export_is_a_csv_of_everything_oldest_first(world):
    engine, _, _, clock, queue = world
    await engine.handle_text(f"/pay {addr(5)} 1.25 USDC", actor=OP, key="p1")
    clock.advance(minutes=1)
    bid = await run_batch(engine, queue, MIXED)
    reply = await engine.handle_text("/ledger export", actor=OP, key="l1")
    (f,) = reply.files
    assert reply.private and f.filename.startswith("ledger-") and f.filename.endswith(".csv")
    table = list(csv.reader(io.StringIO(f.content.decode("utf-8-sig"))))
    assert table[0] == ["time", "kind", "id", "batch", "token", "amount_units", "amount", "recipient", "requester",
                        "status", "tx_hash", "memo"]
    assert len(table) == 7 and table[1][1:2] == ["payment"]
    assert table[1][4:7] == ["USDC", "1250000", "1.25"] and table[1][8] == OP.ref and table[1][9] == "paid"
    bulk = [r for r in table[1:] if r[1] == "bulk"]
    assert {r[3] for r in bulk} == {bid} and {r[9] for r in bulk} == {"paid"} and all(r[10].startswith("0x") for r in bulk)
    assert ["USDC", "2500000", "2.5", addr(0), OP.ref, "paid"] in [r[4:10] for r in bulk]
    assert {r[11] for r in bulk} == {"March salary", "March expenses", ""}
    only = await engine.handle_text("/ledger export CRO", actor=OP, key="l2")
    assert "cro" in only.files[0].filename and only.files[0].content.decode("utf-8-sig").count("\r\n") == 1 + 3


@pytest.mark.parametrize("text, want", [
    ("/ledger", Ledger(OP, "k", 20, None, False)),
    ("/ledger 5", Ledger(OP, "k", 5, None, False)),
    ("/ledger 5 usdc", Ledger(OP, "k", 5, "USDC", False)),
    ("/ledger CRO", Ledger(OP, "k", 20, "CRO", False)),
    ("/ledger export", Ledger(OP, "k", 20, None, True)),
    ("/ledger EXPORT usdc", Ledger(OP, "k", 20, "USDC", True)),
])
def test_ledger_parses(text, want):
    assert parse(text, actor=OP, key="k", tokens=FakeChain().tokens) == want


@pytest.mark.parametrize("text, says", [
    ("/ledger 0", "n: 0 is not a whole number from 1 to 50"),
    ("/ledger 51", "n: 51 is not a whole number from 1 to 50"),
    ("/ledger 5 DOGE", "token: unknown token “DOGE”"),
    ("/ledger 5 CRO more", "too many words"),
    ("/ledger export 5", "token: unknown token “5”"),
])
def test_ledger_refuses_bad_arguments_with_the_usage(text, says):
    with pytest.raises(UsageError) as e:
        parse(text, actor=OP, key="k", tokens=FakeChain().tokens)
    assert says in e.value.message and "Usage: /ledger [n] [token]" in e.value.message
