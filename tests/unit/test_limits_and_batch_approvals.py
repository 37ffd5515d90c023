"""OPERATOR_DAILY_LIMIT (core.payments.limits) and approvals of bulk batches, against fakes at the ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.bulk.model import BatchStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.jobs import Job
from core.model import ApprovalStatus, IntentStatus, NotificationType
from core.replies import loads
from tests.unit.test_approvals import ADA, ADDR, AMOS, APRIL, OLGA, OTTO, Say, make, outbox
from tests.unit.test_bulk_engine import payout_csv

CRO = 10**18


def limited(limit_cro: int = 100, **kw):
    engine, chain, db, clock = make(**kw)
    s = engine.services
    s.policy = replace(s.policy, daily_limit={"CRO": limit_cro * CRO}, approval_threshold={"CRO": 1_000 * CRO})
    s.bulk = BulkPolicy(chunk_size=4, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    chain.balances[(chain.treasury.lower(), "CRO")] = 100_000 * CRO
    return engine, chain, db, clock


def batch_of(reply) -> str:
    return next(b.command.split()[-1] for b in reply.buttons if b.command.startswith("/bulk execute"))


# ------------------------------------------------------------------ the daily limit
async def test_payments_within_the_daily_limit_pay_at_once_and_the_one_over_it_waits_for_approval():
    engine, chain, db, _ = limited()
    say = Say(engine)
    for _ in range(2):
        assert (await say(f"/pay {ADDR} 40")).kind == "ok"
    over = await say(f"/pay {ADDR} 30")
    text = over.plain()
    assert "awaiting approval (0 of 2)" in text, text
    assert "daily limit is 100 CRO" in text and "80 CRO used" in text and "asks for 30 CRO" in text
    assert "room for it from" in text
    assert len(chain.signed) == 2
    alerts = [body for ref, body in outbox(db, NotificationType.SECURITY_ALERT) if ref == ADA.ref]
    assert any("daily limit hit" in a for a in alerts)


async def test_the_limit_is_per_operator_and_per_token():
    engine, chain, _, _ = limited()
    say = Say(engine)
    chain.balances[(chain.treasury.lower(), "USDC")] = 10_000 * 10**6
    assert (await say(f"/pay {ADDR} 90")).kind == "ok"
    assert (await say(f"/pay {ADDR} 90", OTTO)).kind == "ok"  # another operator has a limit of their own
    assert (await say(f"/pay {ADDR} 400 USDC")).kind == "ok"  # no USDC limit is set
    assert len(chain.signed) == 3


async def test_over_the_limit_with_nobody_to_approve_is_refused_naming_limit_used_and_when():
    engine, chain, db, clock = limited(approvers=frozenset())  # only the admin may approve, and 2 are required
    say = Say(engine)
    assert (await say(f"/pay {ADDR} 60")).kind == "ok"
    clock.advance(hours=2)
    refused = await say(f"/pay {ADDR} 50")
    text = refused.plain()
    assert refused.kind == "error" and "daily limit is 100 CRO" in text and "60 CRO used" in text
    first = db.store.intents[next(iter(db.store.intents))]
    assert f"{first.created_at + timedelta(hours=24):%Y-%m-%d %H:%M} UTC" in text  # when the first one ages out
    assert "Nothing was stored" in text and len(db.store.intents) == 1 and len(chain.signed) == 1


async def test_room_frees_after_24_hours_and_cancelled_payments_do_not_count():
    engine, chain, db, clock = limited()
    say = Say(engine)
    assert (await say(f"/pay {ADDR} 90")).kind == "ok"
    waiting = await say(f"/pay {ADDR} 50")
    pid = waiting.plain().split()[1]
    assert (await say(f"/cancel {pid}")).kind != "error"
    clock.advance(hours=24, seconds=1)
    assert (await say(f"/pay {ADDR} 90")).kind == "ok"
    assert len(chain.signed) == 2 and db.store.intents[pid].status is IntentStatus.CANCELLED


async def test_a_payment_larger_than_the_whole_limit_says_so():
    engine, _, _, _ = limited()
    text = (await Say(engine)(f"/pay {ADDR} 150")).plain()
    assert "awaiting approval" in text and "more than the whole limit on its own" in text


async def test_bulk_rows_count_against_the_limit_and_an_over_limit_batch_waits():
    engine, chain, db, _ = limited()
    say = Say(engine)
    first = batch_of(await engine.bulk_upload(OLGA, "u1", "a.csv", payout_csv(4, "20")))  # 80 CRO
    assert "Executing" in (await say(f"/bulk execute {first}")).plain()
    refused_pay = await say(f"/pay {ADDR} 30")
    assert "awaiting approval" in refused_pay.plain() and "80 CRO used" in refused_pay.plain()
    second = batch_of(await engine.bulk_upload(OLGA, "u2", "b.csv", payout_csv(2, "1")))
    waits = await say(f"/bulk execute {second}")
    assert f"Bulk payout {second} awaiting approval (0 of 2)" in waits.plain(), waits.plain()
    assert db.store.batches[second].status is BatchStatus.AWAITING


# ------------------------------------------------------------------ batches through approvals
def thresholded():
    engine, chain, db, clock = make()
    engine.services.bulk = BulkPolicy(chunk_size=4, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    chain.balances[(chain.treasury.lower(), "CRO")] = 100_000 * CRO
    return engine, chain, db, clock


async def test_a_batch_whose_total_is_above_the_threshold_waits_and_approvers_see_its_rows():
    engine, chain, db, _ = thresholded()
    say = Say(engine)
    bid = batch_of(await engine.bulk_upload(OLGA, "u1", "payroll.csv", payout_csv(12, "1")))  # 12 CRO > 10
    waits = await say(f"/bulk execute {bid}")
    assert f"Bulk payout {bid} awaiting approval (0 of 2)" in waits.plain()
    assert "12 CRO in 12 payouts" in waits.plain() and "approval threshold (10 CRO)" in waits.plain()
    assert [b.command for b in waits.buttons] == [f"/bulk cancel {bid}"]
    settling = [j for j, _, _ in engine.services.queue.jobs if j == Job.BULK_SETTLE]
    assert settling == [] and db.store.batches[bid].status is BatchStatus.AWAITING  # nothing was started
    asks = [n for n in db.store.outbox if n.type is NotificationType.APPROVAL_REQUEST and n.user_ref == APRIL.ref]
    body = loads(asks[0].body)
    assert "12 recipients" in body.plain() and "payroll.csv" in body.plain()
    assert [b.command for b in body.buttons] == [f"/approve {bid}", f"/reject {bid}", f"/bulk preview {bid}"]
    preview = await say(f"/bulk preview {bid}", APRIL)
    assert "awaiting approval" in preview.plain() and "…and 2 more rows" in preview.plain() and preview.files
    again = await say(f"/bulk execute {bid}")
    assert again.kind == "error" and "awaiting approval" in again.plain()


async def test_the_kth_approval_starts_the_batch_once_and_its_rows_are_paid():
    engine, chain, db, _ = thresholded()
    say = Say(engine)
    bid = batch_of(await engine.bulk_upload(OLGA, "u1", "p.csv", payout_csv(12, "1")))
    await say(f"/bulk execute {bid}")
    assert (await say(f"/approve {bid}", APRIL)).plain().startswith(f"Approved: bulk payout {bid} has 1 of 2")
    done = await say(f"/approve {bid}", AMOS)
    assert f"bulk payout {bid} started" in done.plain(), done.plain()
    jobs = [a for j, a, _ in engine.services.queue.jobs if j == Job.BULK_SETTLE]
    assert jobs and db.store.batches[bid].status is BatchStatus.RUNNING
    late = await say(f"/approve {bid}", ADA)
    assert late.kind == "error" and "already approved" in late.plain()
    from core.bulk import settle

    for args in jobs:
        await settle.work(engine.services, *args)
    assert all(r.status is RowStatus.PAID for r in db.store.batch_rows[bid])
    told = [body for ref, body in outbox(db, NotificationType.APPROVAL_OUTCOME) if ref == OLGA.ref]
    assert any("was approved by" in t and "started" in t for t in told)
    alerts = [body for _, body in outbox(db, NotificationType.SECURITY_ALERT)]
    assert any("bulk payout above the approval threshold sent" in a for a in alerts)


async def test_a_rejected_or_expired_or_withdrawn_batch_cancels_every_row():
    engine, _, db, clock = thresholded()
    say = Say(engine)
    ids = []
    for n in range(3):
        bid = batch_of(await engine.bulk_upload(OLGA, f"u{n}", f"p{n}.csv", payout_csv(11, "1", extra=f"{ADDR},0.{n + 1},CRO,\n")))
        await say(f"/bulk execute {bid}")
        ids.append(bid)
    assert (await say(f"/reject {ids[0]} wrong month", APRIL)).kind == "ok"
    assert (await say(f"/bulk cancel {ids[1]}")).kind != "error"
    assert db.store.approval_requests[ids[1]].status is ApprovalStatus.CANCELLED
    clock.advance(hours=25)
    late = await say(f"/approve {ids[2]}", APRIL)
    assert late.kind == "error" and "expired" in late.plain()
    for bid in ids:
        assert db.store.batches[bid].status is BatchStatus.CANCELLED
        assert {r.status for r in db.store.batch_rows[bid]} == {RowStatus.CANCELLED}
    told = [body for ref, body in outbox(db, NotificationType.APPROVAL_OUTCOME) if ref == OLGA.ref]
    assert any("wrong month" in t for t in told) and any("expired" in t for t in told)


async def test_the_requester_cannot_approve_their_own_batch():
    engine, _, _, _ = thresholded()
    say = Say(engine)
    bid = batch_of(await engine.bulk_upload(OLGA, "u1", "p.csv", payout_csv(12, "1")))
    await say(f"/bulk execute {bid}")
    own = await say(f"/approve {bid}", OLGA)
    assert own.kind == "error" and "own bulk payout" in own.plain()


async def test_status_of_a_payment_awaiting_approval_offers_no_confirm_button():
    engine, _, _, _ = thresholded()
    say = Say(engine)
    pid = (await say(f"/pay {ADDR} 20")).plain().split()[1]
    status = await say(f"/status {pid}")
    assert status.plain().startswith("Awaiting approval: it is awaiting approval (0 of 2)"), status.plain()
    assert [b.command for b in status.buttons] == [f"/cancel {pid}"]
