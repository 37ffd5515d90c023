"""M-of-N approvals of payments above APPROVAL_THRESHOLD (core.payments.approvals), against fakes at the ports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.commands import Actor
from core.engine import Engine
from core.model import ApprovalStatus, IntentStatus, NotificationType
from core.replies import loads
from core.services import Policy
from tests import fakes
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS: may approve
OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS: requests
APRIL = Actor("telegram", "3", "April", "april")  # APPROVERS
AMOS = Actor("telegram", "4", "Amos", "amos")  # APPROVERS
OTTO = Actor("telegram", "5", "Otto", "otto")  # OPERATORS: may spend, may not approve
BOB = Actor("telegram", "7", "Bob", "bob")  # a member
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def make(required: int = 2, approvers: frozenset[str] = frozenset({APRIL.ref, AMOS.ref})):
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref, OTTO.ref}), approvers=approvers,
                    approval_threshold={"CRO": 10 * 10**18, "USDC": 500 * 10**6}, approvals_required=required,
                    approval_ttl=timedelta(hours=24))
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), policy=policy)
    return engine, chain, db, clock


@pytest.fixture
def world():
    return make()


class Say(fakes.Say):
    actor, prefix = OLGA, "k"


def outbox(db: FakeDatabase, kind: NotificationType | None = None) -> list[tuple[str, str]]:
    return [(n.user_ref, loads(n.body).plain()) for n in db.store.outbox if kind is None or n.type is kind]


async def request(say: Say, amount: str = "20") -> str:
    reply = await say(f"/pay {ADDR} {amount}")
    assert "awaiting approval (0 of 2)" in reply.plain(), reply.plain()
    return reply.plain().split()[1]


async def test_at_or_below_the_threshold_pays_at_once(world):
    engine, chain, db, _ = world
    reply = await Say(engine)(f"/pay {ADDR} 10")  # not strictly above CRO=10
    assert reply.kind == "ok", reply.plain()
    assert len(chain.signed) == 1 and not db.store.approval_requests


async def test_above_the_threshold_waits_signs_nothing_and_asks_each_approver_with_buttons(world):
    engine, chain, db, _ = world
    reply = await Say(engine)(f"/pay {ADDR} 20")
    pid = reply.plain().split()[1]
    assert reply.plain().startswith(f"Payment {pid} awaiting approval (0 of 2)")
    assert chain.signed == [] and db.store.intents[pid].status is IntentStatus.PENDING
    asks = [n for n in db.store.outbox if n.type is NotificationType.APPROVAL_REQUEST]
    assert sorted(n.user_ref for n in asks) == sorted([ADA.ref, APRIL.ref, AMOS.ref])  # never the requester
    body = loads(asks[0].body)
    text = body.plain()
    assert "20 CRO" in text and ADDR in text and "@olga (telegram:2)" in text and pid in text
    assert [(b.label, b.command) for b in body.buttons] == [("Approve", f"/approve {pid}"), ("Reject", f"/reject {pid}")]
    assert body.private


async def test_usdc_threshold_is_its_own(world):
    engine, chain, _, _ = world
    say = Say(engine)
    chain.balances[(chain.treasury.lower(), "USDC")] = 2_000 * 10**6
    assert (await say(f"/pay {ADDR} 500 USDC")).kind == "ok"
    assert "awaiting approval" in (await say(f"/pay {ADDR} 500.01 USDC")).plain()


async def test_two_approvals_sign_once_and_everyone_hears_the_outcome(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    first = await say(f"/approve {pid}", APRIL)
    assert first.plain().startswith(f"Approved: payment {pid} has 1 of 2 approvals"), first.plain()
    assert chain.signed == []
    second = await say(f"/approve {pid}", ADA)
    assert f"Approved (2 of 2): payment {pid}" in second.plain() and second.kind == "ok", second.plain()
    assert len(chain.signed) == 1 and db.store.intents[pid].status is IntentStatus.CONFIRMED
    told = outbox(db, NotificationType.APPROVAL_OUTCOME)
    assert any(ref == OLGA.ref and "approved by telegram:3, telegram:1: paid" in text for ref, text in told), told
    assert any(ref == APRIL.ref and "paid" in text for ref, text in told)
    votes = db.store.votes
    assert [(v.approver_ref, v.approve) for v in votes] == [(APRIL.ref, True), (ADA.ref, True)]
    third = await say(f"/approve {pid}", AMOS)
    assert third.kind == "error" and "already approved (2 of 2)" in third.plain()
    assert len(chain.signed) == 1 and len(db.store.votes) == 2


async def test_pressing_twice_is_refused_and_counts_once(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    again = await say(f"/approve {pid}", APRIL)
    assert again.kind == "error" and again.plain().startswith(f"You already approved {pid}"), again.plain()
    assert len(db.store.votes) == 1 and chain.signed == []


async def test_own_request_and_non_approvers_are_refused_and_change_nothing(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    own = await say(f"/approve {pid}", OLGA)
    assert own.plain() == "You cannot approve your own payment: another approver has to. Nothing changed."
    for who in (OTTO, BOB):
        refused = await say(f"/approve {pid}", who)
        assert refused.kind == "error" and "Only approvers and admins can approve payments" in refused.plain()
    assert "you are an operator" in (await say(f"/approve {pid}", OTTO)).plain()
    assert (await say(f"/reject {pid} no", BOB)).kind == "error"
    assert "/cancel" in (await say(f"/reject {pid}", OLGA)).plain()
    assert db.store.votes == [] and chain.signed == []
    assert db.store.approval_requests[pid].status is ApprovalStatus.WAITING


async def test_an_admin_requester_never_counts_for_their_own(world):
    engine, chain, db, _ = world
    say = Say(engine)
    reply = await say(f"/pay {ADDR} 20", ADA)
    pid = reply.plain().split()[1]
    asked = sorted(r for r, _ in outbox(db, NotificationType.APPROVAL_REQUEST))
    assert asked == sorted([APRIL.ref, AMOS.ref])
    assert (await say(f"/approve {pid}", ADA)).kind == "error"


async def test_too_few_approvers_refuses_the_payment_and_stores_nothing():
    engine, chain, db, _ = make(required=3, approvers=frozenset({APRIL.ref}))
    reply = await Say(engine)(f"/pay {ADDR} 20")
    assert reply.kind == "error" and "needs 3 approvers besides you, but 2 people may approve" in reply.plain()
    assert not db.store.intents and not db.store.outbox and chain.signed == []


async def test_a_rejection_cancels_and_tells_the_requester_why(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    reply = await say(f"/reject {pid} wrong address, check the invoice", AMOS)
    assert reply.kind == "ok" and reply.plain().startswith(f"Rejected: payment {pid} is cancelled")
    assert db.store.intents[pid].status is IntentStatus.CANCELLED
    told = dict(outbox(db, NotificationType.APPROVAL_OUTCOME))
    assert "rejected by @amos (telegram:4): wrong address, check the invoice. Nothing was paid." in told[OLGA.ref]
    late = await say(f"/approve {pid}", ADA)
    assert late.kind == "error" and "was rejected by telegram:4" in late.plain()
    assert chain.signed == []
    assert (await say(f"/reject {pid}", APRIL)).kind == "error"  # already decided, and it is closed anyway


async def test_expiry_refuses_late_approvals_and_the_sweep_tells_the_requester(world):
    engine, chain, db, clock = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    clock.advance(hours=24)
    late = await say(f"/approve {pid}", AMOS)
    assert late.kind == "error" and "expired at" in late.plain() and "nothing was paid" in late.plain()
    assert db.store.intents[pid].status is IntentStatus.CANCELLED and chain.signed == []
    assert len(db.store.votes) == 1
    told = dict(outbox(db, NotificationType.APPROVAL_OUTCOME))
    assert "expired with 1 of 2 approvals" in told[OLGA.ref]
    # Nobody acts on the next one: the periodic pass expires it and tells the requester.
    other = await request(say)
    clock.advance(hours=25)
    assert await engine.reconcile() == 1
    assert db.store.approval_requests[other].status is ApprovalStatus.EXPIRED
    assert any(r == OLGA.ref and other in t and "expired" in t for r, t in outbox(db, NotificationType.APPROVAL_OUTCOME))


async def test_confirm_cannot_skip_approval_and_cancel_withdraws_the_request(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    refused = await say(f"/confirm {pid}")
    assert refused.kind == "error" and "awaiting approval (0 of 2)" in refused.plain()
    assert chain.signed == []
    assert "Cancelled" in (await say(f"/cancel {pid}")).plain()
    assert db.store.approval_requests[pid].status is ApprovalStatus.CANCELLED
    late = await say(f"/approve {pid}", APRIL)
    assert late.kind == "error" and "was cancelled by its requester" in late.plain()
    assert db.store.votes == [] and chain.signed == []


async def test_an_approved_payment_cannot_be_cancelled_and_an_orphan_is_signed_by_the_sweep(world):
    engine, chain, db, clock = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    # As if Amos's process died right after committing the k-th approval, before signing.
    req = db.store.approval_requests[pid]
    req.status, req.decided_at, req.decided_by = ApprovalStatus.APPROVED, clock.now(), AMOS.ref
    refused = await say(f"/cancel {pid}")
    assert refused.kind == "error" and "approved and being sent" in refused.plain()
    assert await engine.reconcile() == 0  # within the grace period its approver may still be signing
    clock.advance(minutes=1)
    assert await engine.reconcile() == 1
    assert len(chain.signed) == 1 and db.store.intents[pid].status is IntentStatus.CONFIRMED
    assert await engine.reconcile() == 0 and len(chain.signed) == 1


async def test_the_last_approval_is_refused_whole_while_the_chain_is_down(world):
    engine, chain, db, _ = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    chain.down = True
    reply = await say(f"/approve {pid}", AMOS)
    assert reply.kind == "error" and "Nothing was paid" in reply.plain()
    assert len(db.store.votes) == 1 and db.store.approval_requests[pid].status is ApprovalStatus.WAITING
    chain.down = False
    assert "Approved (2 of 2)" in (await say(f"/approve {pid}", AMOS)).plain()
    assert len(chain.signed) == 1


async def test_pending_lists_what_waits_for_whom(world):
    engine, _, _, _ = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    mine = (await say("/pending", APRIL)).plain()
    assert pid in mine and "1 of 2" in mine and "you approved" in mine
    assert "yours" in (await say("/pending")).plain()
    assert (await say("/pending", BOB)).plain() == "Nothing is waiting for approval."
    assert (await say("/pending", OTTO)).plain() == "Nothing is waiting for approval."


async def test_usage_errors_name_the_problem(world):
    engine, _, _, _ = world
    say = Say(engine)
    assert "payment id is missing" in (await say("/approve", APRIL)).plain()
    assert "nothing called pay-zzzzzzzz waits for approval" in (await say("/approve pay-zzzzzzzz", APRIL)).plain()
    assert "keep it to 200" in (await say("/reject pay-x " + "a" * 201, APRIL)).plain()
    assert "takes no arguments" in (await say("/pending now", APRIL)).plain()


async def test_decisions_are_audited(world):
    engine, _, db, _ = world
    say = Say(engine)
    pid = await request(say)
    await say(f"/approve {pid}", APRIL)
    await say(f"/approve {pid}", OLGA)
    got = [(e.actor_ref, e.command, e.outcome) for e in db.store.audit]
    assert (APRIL.ref, "approve", "ok") in got and (OLGA.ref, "approve", "refused") in got


async def test_a_treasury_mixer_deposit_above_the_threshold_waits_for_approval_like_a_payment():
    from tests.unit.test_mixer_handlers import FakeMixer

    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    mixer = FakeMixer(chain)
    policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref}),
                    approvers=frozenset({APRIL.ref, AMOS.ref}), approval_threshold={"CRO": 5 * 10**16})
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), policy=policy, mixer=mixer)
    say = Say(engine)
    reply = await say("/mix 0.1")  # always compared: the 0.1 CRO pool is above CRO=0.05
    text = reply.plain()
    assert reply.private and "snowrail-" in text and "awaiting approval (0 of 2)" in text, text
    did = text.split("Deposit ")[1].split()[0]
    assert mixer.deposits == [] and chain.signed == []
    asks = outbox(db, NotificationType.APPROVAL_REQUEST)
    assert len(asks) == 3 and all("the privacy pool" in t and "snowrail-" not in t for _, t in asks)  # never the note
    await say(f"/approve {did}", APRIL)
    done = await say(f"/approve {did}", AMOS)
    assert "Approved (2 of 2)" in done.plain() and len(chain.signed) == 1
    assert chain.signed[0][0].mixer_commitment is not None and db.store.intents[did].status is IntentStatus.CONFIRMED
