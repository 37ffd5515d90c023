"""Scheduled and recurring treasury payments (core.schedules) against fakes at the ports, with a clock we advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.bulk import settle as bulk_settle
from core.commands import Actor
from core.engine import Engine
from core.jobs import Job
from core.model import IntentStatus, NotificationType
from core.replies import loads
from core.schedules.model import OccurrenceStatus, ScheduleStatus
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS
OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
OTTO = Actor("telegram", "5", "Otto", "otto")  # OPERATORS
BOB = Actor("telegram", "7", "Bob", "bob")  # a member
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def addr(i: int) -> str:
    return "0x" + f"{i + 1:040x}"


class World:
    def __init__(self, start: datetime | None = None, **policy: object) -> None:
        self.chain, self.db, self.queue = FakeChain(), FakeDatabase(), RecordingQueue()
        self.clock = FakeClock(start or datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
        self.policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref, OTTO.ref}), **policy)  # type: ignore[arg-type]  # the tests pass Policy's own keyword arguments
        self.engine = self.new_engine()
        self.n = 0

    def new_engine(self) -> Engine:
        """A restart: a new engine (no memory of its own) over the same database and chain."""
        return Engine(chain=self.chain, uow=self.db, clock=self.clock, queue=self.queue, policy=self.policy)

    async def say(self, text: str, actor: Actor = OLGA):
        self.n += 1
        return await self.engine.handle_text(text, actor=actor, key=f"k{self.n}")

    async def schedule(self, text: str, actor: Actor = OLGA) -> str:
        reply = await self.say(text, actor)
        assert reply.kind != "error", reply.plain()
        assert reply.plain().startswith("Schedule sch-"), reply.plain()
        return reply.plain().split()[1].rstrip(":")

    async def tick_at(self, moment: datetime) -> int:
        self.clock.t = moment
        moved = await self.engine.tick()
        await self.run_jobs()
        return moved

    async def run_jobs(self) -> None:
        while self.queue.jobs:
            job, args, _ = self.queue.jobs.pop(0)
            if job is Job.BULK_SETTLE:
                await bulk_settle.work(self.engine.services, *args)  # type: ignore[arg-type]  # a BULK_SETTLE job's (batch id, chunk index)

    def occurrences(self, sid: str):
        return sorted((o for o in self.db.store.occurrences.values() if o.schedule_id == sid), key=lambda o: o.due_at)

    def paid_to(self, address: str) -> int:
        return sum(i.amount for i in self.db.store.intents.values()
                   if i.recipient == address and i.status is IntentStatus.CONFIRMED) + \
            sum(r.amount for rows in self.db.store.batch_rows.values() for r in rows
                if r.recipient == address and r.status.value == "paid")

    def notes(self, kind: NotificationType) -> list[str]:
        return [loads(n.body).plain() for n in self.db.store.outbox if n.type is kind]


@pytest.fixture
def w() -> World:
    return World()


async def test_a_recurring_payment_fires_three_times_once_each_as_the_clock_advances(w):
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every day at 13:00")
    first = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert await w.tick_at(first - timedelta(minutes=1)) == 1  # the reminder only
    assert w.paid_to(ADDR) == 0
    for day in range(3):
        due = first + timedelta(days=day)
        await w.tick_at(due)
        await w.tick_at(due + timedelta(seconds=1))  # a second pass finds nothing more to pay
    assert w.paid_to(ADDR) == 3 * 10**6
    occ = w.occurrences(sid)
    assert [o.due_at for o in occ] == [first + timedelta(days=d) for d in range(3)]
    assert all(o.status is OccurrenceStatus.PAYING and o.intent_id for o in occ)
    assert {w.db.store.intents[o.intent_id].key for o in occ} == {o.key for o in occ}  # the occurrence key is the key
    assert occ[0].key == f"{sid}-20261126T1300Z"
    assert w.db.store.schedules[sid].next_run_at == first + timedelta(days=3)


async def test_the_preview_names_amount_recipient_repeat_zone_and_next_run(w):
    await w.say("/tz Europe/Berlin")
    reply = await w.say(f"/pay {ADDR} 100 USDC every month on the 1st at 09:00")
    text = reply.plain()
    assert text.startswith("Schedule sch-") and "100 USDC to " + ADDR in text
    assert "every month on the 1st at 09:00 Europe/Berlin; next run 2026-12-01 09:00 CET" in text
    assert [b.command.split()[1] for b in reply.buttons] == ["skip", "pause", "cancel"]
    sch = next(iter(w.db.store.schedules.values()))
    assert sch.rule == "FREQ=MONTHLY;BYMONTHDAY=1" and sch.next_run_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_daylight_saving_in_berlin_keeps_nine_oclock_on_the_wall(w):
    w.clock.t = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
    await w.say("/tz Europe/Berlin")
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every day at 09:00")
    before, after = datetime(2027, 3, 27, 8, 0, tzinfo=UTC), datetime(2027, 3, 28, 7, 0, tzinfo=UTC)  # CET, then CEST
    t = w.clock.t
    while t < after + timedelta(hours=1):
        t += timedelta(hours=1)
        await w.tick_at(t)
    due = [o.due_at for o in w.occurrences(sid)]
    assert before in due and after in due
    assert {d.astimezone(w.db.store.schedules[sid].zone).strftime("%H:%M") for d in due} == {"09:00"}


async def test_pause_stops_runs_resume_passes_over_what_fell_due_and_skip_passes_one(w):
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every day at 13:00")
    day = timedelta(days=1)
    first = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert "Paused" in (await w.say(f"/schedule pause {sid}")).plain()
    await w.tick_at(first + timedelta(minutes=5))
    assert w.occurrences(sid) == [] and w.paid_to(ADDR) == 0
    assert "Resumed" in (await w.say(f"/schedule resume {sid}")).plain()
    assert w.db.store.schedules[sid].next_run_at == first + day  # today's run is not paid late
    skipped = await w.say(f"/schedule skip {sid}")
    assert "Skipping the run" in skipped.plain() and "2026-11-27 13:00" in skipped.plain()
    await w.tick_at(first + day)
    await w.tick_at(first + 2 * day)
    occ = w.occurrences(sid)
    assert [o.status for o in occ] == [OccurrenceStatus.SKIPPED, OccurrenceStatus.PAYING]  # skip: the next one only
    assert w.paid_to(ADDR) == 10**6
    assert "cancelled" not in (await w.say("/schedules")).plain()
    await w.say(f"/schedule cancel {sid}")
    await w.tick_at(first + 3 * day)
    assert len(w.occurrences(sid)) == 2 and w.db.store.schedules[sid].status is ScheduleStatus.CANCELLED


async def test_a_run_missed_beyond_the_grace_window_is_reported_and_never_paid(w):
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every day at 13:00")
    first = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    w.engine = w.new_engine()  # the bot comes back 2 days and an hour late
    await w.tick_at(first + timedelta(days=2, hours=1))
    occ = w.occurrences(sid)
    assert [o.status for o in occ] == [OccurrenceStatus.MISSED, OccurrenceStatus.MISSED, OccurrenceStatus.PAYING]
    assert w.paid_to(ADDR) == 10**6  # only the run within 24 h
    missed = w.notes(NotificationType.SCHEDULE_RESULT)
    assert len(missed) == 1 and "2026-11-26 13:00" in missed[0] and "2026-11-27 13:00" in missed[0]
    assert "nothing was paid" in missed[0]


async def test_a_restart_between_occurrences_pays_each_once(w):
    sid = await w.schedule(f"/pay {ADDR} 2 USDC every day at 13:00 times 3")
    first = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    await w.tick_at(first)
    w.engine = w.new_engine()
    await w.tick_at(first)  # the same moment again after the restart (a clock that went back)
    await w.tick_at(first + timedelta(days=1, minutes=3))
    w.engine = w.new_engine()
    await w.tick_at(first + timedelta(days=2))
    await w.tick_at(first + timedelta(days=9))
    assert w.paid_to(ADDR) == 6 * 10**6
    assert len(w.occurrences(sid)) == 3 and w.db.store.schedules[sid].status is ScheduleStatus.DONE


async def test_the_owner_is_reminded_once_per_run_with_skip_and_pause_buttons(w):
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every day at 15:00")
    for minutes in (0, 10, 20):
        await w.tick_at(datetime(2026, 11, 26, 14, minutes, tzinfo=UTC))
    reminders = [n for n in w.db.store.outbox if n.type is NotificationType.SCHEDULE_REMINDER]
    assert len(reminders) == 1 and reminders[0].user_ref == OLGA.ref
    body = loads(reminders[0].body)
    assert [b.command for b in body.buttons] == [f"/schedule skip {sid}", f"/schedule pause {sid}"]


async def test_many_runs_due_together_go_out_as_one_batch(w):
    for i in range(5):
        await w.schedule(f"/pay {addr(i)} 1 USDC at 2026-11-27 09:00")
    await w.schedule(f"/pay {addr(9)} 1 CRO at 2026-11-27 09:00")  # another token: a payment of its own
    await w.tick_at(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert len(w.db.store.batches) == 1
    batch = next(iter(w.db.store.batches.values()))
    assert batch.rows == 5 and batch.actor_ref == OLGA.ref and batch.paid == 5
    assert all(w.paid_to(addr(i)) == 10**6 and w.chain.received[(addr(i), "USDC")] == 10**6 for i in range(5))
    assert len(w.chain.signed) == 1  # the lone CRO one went on the single-payment path
    assert all(s.status is ScheduleStatus.DONE for s in w.db.store.schedules.values())


async def test_above_the_approval_threshold_a_run_waits_for_approvers():
    w = World(approvers=frozenset({"telegram:3", "telegram:4"}), approval_threshold={"USDC": 5 * 10**6})
    sid = await w.schedule(f"/pay {ADDR} 10 USDC at 2026-11-27 09:00")
    await w.tick_at(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    occ = w.occurrences(sid)
    assert occ[0].status is OccurrenceStatus.WAITING and w.chain.signed == []
    assert len(w.notes(NotificationType.APPROVAL_REQUEST)) == 3


async def test_only_operators_schedule_and_only_owner_or_admin_change_one(w):
    reply = await w.say(f"/pay {ADDR} 1 USDC every friday", actor=BOB)
    assert reply.kind == "error" and not w.db.store.schedules
    sid = await w.schedule(f"/pay {ADDR} 1 USDC every friday")
    refused = await w.say(f"/schedule pause {sid}", actor=OTTO)
    assert refused.kind == "error" and "no schedule" in refused.plain()
    assert sid not in (await w.say("/schedules", actor=OTTO)).plain()
    assert sid in (await w.say("/schedules", actor=ADA)).plain()
    assert "Paused" in (await w.say(f"/schedule pause {sid}", actor=ADA)).plain()


@pytest.mark.parametrize("when, field", [
    ("at 2026-11-01 09:00", "is in the past"),
    ("at 2027-02-30 09:00", "there is no 30 February 2027"),
    ("every 0 days", "interval must be at least 1"),
    ("every month on the 1st until 2026-11-20", "is before the first payment"),
    ("at 2026-12-01 09:00 please", "I do not understand"),
])
async def test_bad_times_get_a_specific_reply_and_schedule_nothing(w, when, field):
    reply = await w.say(f"/pay {ADDR} 10 USDC {when}")
    assert reply.kind == "error" and field in reply.plain(), reply.plain()
    assert not w.db.store.schedules


async def test_more_than_the_most_per_person_is_refused():
    w = World(schedule_max_per_user=2)
    await w.schedule(f"/pay {ADDR} 1 USDC every friday")
    await w.schedule(f"/pay {ADDR} 1 USDC every monday")
    reply = await w.say(f"/pay {ADDR} 1 USDC every tuesday")
    assert reply.kind == "error" and "the most one person may keep is 2" in reply.plain()
    assert len(w.db.store.schedules) == 2


async def test_a_sentence_with_two_amounts_is_asked_about_not_scheduled(w):
    reply = await w.say("pay @bob 10 usdc and 20 usdc every friday")
    assert "amount" in reply.plain().lower() and not w.db.store.schedules


async def test_a_repeated_message_stores_one_schedule(w):
    first = await w.engine.handle_text(f"/pay {ADDR} 1 USDC every friday", actor=OLGA, key="same")
    again = await w.engine.handle_text(f"/pay {ADDR} 1 USDC every friday", actor=OLGA, key="same")
    assert len(w.db.store.schedules) == 1 and again.plain() == first.plain()
