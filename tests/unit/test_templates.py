"""Payout templates (/bulk save, /bulk run, /bulk templates, run_template) through the engine on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.bulk import settle
from core.bulk.model import BatchStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.bulk.templates import run_template
from core.commands import Actor
from core.engine import Engine
from core.jobs import Job
from core.services import Policy
from tests import fakes
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
MEL = Actor("telegram", "9", "Mel", "mel")  # a member
APRIL = Actor("telegram", "3", "April", "april")  # APPROVERS
A1 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
A2 = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
PAYROLL = f"recipient,amount,token,memo\n{A1},100.25,USDC,\"rent, march\"\n{A2},0.5,CRO,=SUM(A1)\n".encode()


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    policy = Policy(operators=frozenset({OLGA.ref}), approvers=frozenset({APRIL.ref}))
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=policy)
    engine.services.bulk = BulkPolicy(chunk_size=4, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    return engine, chain, db, clock, queue


class Say(fakes.Say):
    actor, prefix = OLGA, "t"


def execute_id(reply) -> str:
    return next(b.command.split()[-1] for b in reply.buttons if b.command.startswith("/bulk execute"))


async def run_jobs(engine, queue):
    for job, args, _ in list(queue.jobs):
        if job is Job.BULK_SETTLE:
            await settle.work(engine.services, *args)
    queue.jobs.clear()


async def saved_payroll(engine: Engine) -> str:
    first = execute_id(await engine.bulk_upload(OLGA, "up-1", "payroll.csv", PAYROLL))
    saved = await Say(engine)(f"/bulk save {first} as Payroll")
    assert saved.kind == "ok", saved.plain()
    assert "Saved " + first + "'s 2 rows as template payroll (100.25 USDC · 0.5 CRO)." in saved.plain()
    return first


async def test_save_then_run_makes_a_new_batch_previewed_and_executed_like_an_upload(world):
    engine, chain, db, clock, queue = world
    say = Say(engine)
    first = await saved_payroll(engine)
    listed = await say("/bulk templates", APRIL)
    assert "payroll — 2 rows, 100.25 USDC · 0.5 CRO, from " + first in listed.plain()

    preview = await say("/bulk run payroll")
    second = execute_id(preview)
    assert second != first and "template-payroll.csv" in preview.plain()
    rows = await _rows(db, second)
    assert [(r.recipient, r.token, r.amount, r.memo) for r in rows] == [
        (A1, "USDC", 100_250_000, "rent, march"), (A2, "CRO", 5 * 10**17, "=SUM(A1)")]
    assert db.store.batches[second].status is BatchStatus.PREVIEW and not queue.jobs  # nothing paid by a preview

    warned = await say(f"/bulk execute {second}")  # the same rows as last time: Execute asks once more
    assert "same file as" in warned.plain() and first in warned.plain()
    assert "Executing" in (await say(f"/bulk execute {second}")).plain()
    await run_jobs(engine, queue)
    assert all(r.status is RowStatus.PAID for r in await _rows(db, second))


async def _rows(db: FakeDatabase, batch_id: str):
    return db.store.batch_rows[batch_id]


async def test_a_template_that_does_not_exist_is_refused_with_the_teams_names(world):
    engine, chain, db, clock, queue = world
    say = Say(engine)
    none_yet = await say("/bulk run payroll")
    assert none_yet.kind == "error" and "there is no template named payroll in this team (this team has no templates yet)" in none_yet.plain()
    await saved_payroll(engine)
    other = await say("/bulk run payroll-eu")  # e.g. another team's template: that bot's database, not ours
    assert "this team's templates: payroll" in other.plain() and "another team's bot cannot be run here" in other.plain()
    assert len(db.store.batches) == 1


async def test_a_taken_name_an_unknown_batch_and_bad_words_are_refused(world):
    engine, chain, db, clock, queue = world
    say = Say(engine)
    first = await saved_payroll(engine)
    cases = [
        (f"/bulk save {first} as payroll", "name: a template named payroll exists already"),
        ("/bulk save bulk-nothere2 as other", "id: no bulk payout bulk-nothere2 was found"),
        (f"/bulk save {first} payroll", "name: write /bulk save <batch id> as <name>"),
        (f"/bulk save {first} as 0xpay", "name: 0xpay cannot name a template"),
        ("/bulk run", "name: give the name of the template"),
        ("/bulk run payroll please", "when: too many words"),
        ("/bulk templates all", "/bulk templates takes no arguments"),
        ("/bulk frob", "is not one of upload, preview, execute, status, cancel, retry, run, save, templates"),
    ]
    for text, problem in cases:
        reply = await say(text)
        assert reply.kind == "error" and problem in reply.plain(), (text, reply.plain())
    assert len(db.store.templates) == 1 and len(db.store.batches) == 1


async def test_members_may_not_save_run_or_list_templates(world):
    engine, chain, db, clock, queue = world
    say = Say(engine)
    first = await saved_payroll(engine)
    for text in (f"/bulk save {first} as mine", "/bulk run payroll"):
        assert "Only operators may save or run a payout template" in (await say(text, MEL)).plain()
    assert "visible to operators, approvers and admins" in (await say("/bulk templates", MEL)).plain()
    assert len(db.store.templates) == 1 and len(db.store.batches) == 1


# The seam with core.schedules.runs: it calls run_template(s, owner, …) with an Actor, where the agreed signature takes
# the owner's ref (a str, as job arguments are). Until one side changes, the due run fails here.
async def test_a_template_scheduled_every_day_runs_through_the_due_loop_once_per_day(world):
    engine, chain, db, clock, queue = world
    say = Say(engine)
    await saved_payroll(engine)
    assert "when: I could not read a time" in (await say("/bulk run payroll every blursday")).plain()
    assert "past" in (await say("/bulk run payroll at 2020-01-01 09:00")).plain().lower()
    scheduled = await say("/bulk run payroll every day at 13:00")  # the clock starts at 12:00 UTC
    assert scheduled.kind == "ok", scheduled.plain()
    assert "template payroll (2 rows, 100.25 USDC, 0.5 CRO) every day at 13:00 UTC; next run 2026-11-26 13:00" in scheduled.plain()
    assert [b.label for b in scheduled.buttons] == ["Skip next", "Pause", "Cancel"]
    (schedule,) = db.store.schedules.values()
    assert schedule.template in db.store.templates and len(db.store.batches) == 1

    clock.advance(hours=1)
    await engine.tick()
    runs = [b for b in db.store.batches.values() if b.key.startswith("sch-")]
    assert len(runs) == 1 and runs[0].status is BatchStatus.RUNNING and runs[0].actor_ref == OLGA.ref
    await engine.tick()  # the same due time again: nothing new
    clock.advance(hours=24)
    await engine.tick()
    assert len([b for b in db.store.batches.values() if b.key.startswith("sch-")]) == 2
    await run_jobs(engine, queue)
    assert all(b.paid == 2 for b in db.store.batches.values() if b.key.startswith("sch-"))


async def test_run_template_stores_and_executes_once_per_key(world):
    engine, chain, db, clock, queue = world
    await saved_payroll(engine)
    (template_id,) = db.store.templates
    s = engine.services
    done = await run_template(s, OLGA.ref, template_id, "sch-abc-2026-12-25T09:00:00+00:00")
    assert "Executing" in done.plain(), done.plain()  # the repeat warning was answered by the schedule itself
    again = await run_template(s, OLGA.ref, template_id, "sch-abc-2026-12-25T09:00:00+00:00")
    assert again.kind != "error" and len(db.store.batches) == 2  # the same occurrence stores nothing new
    await run_jobs(engine, queue)
    (ran,) = [b for b in db.store.batches.values() if b.key.startswith("sch-abc")]
    assert db.store.batches[ran.id].paid == 2

    gone = await run_template(s, OLGA.ref, "tpl-nothere", "sch-abc-2027")
    assert gone.kind == "error" and "no longer exists" in gone.plain()
    demoted = await run_template(s, MEL.ref, template_id, "sch-mel-1")
    assert demoted.kind == "error" and "Only operators" in demoted.plain()
    assert len(db.store.batches) == 2


async def test_run_template_reports_a_batch_the_treasury_cannot_pay(world):
    engine, chain, db, clock, queue = world
    await saved_payroll(engine)
    (template_id,) = db.store.templates
    chain.balances[(chain.treasury.lower(), "USDC")] = 100 * 10**6  # 100 USDC; the payroll needs 100.25
    reply = await run_template(engine.services, OLGA.ref, template_id, "sch-x-1")
    assert reply.kind == "error" and reply.plain().startswith("The scheduled run of a payout template was not paid: balance:")
    assert not queue.jobs
