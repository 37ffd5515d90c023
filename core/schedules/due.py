"""The due-time loop of schedules: every occurrence that is due is paid exactly once (or reported missed).

Why a database due-time loop under a lock, run by every bot process, and not RQ 3's scheduler (CronJob, Repeat):
- Schedules are data people create, pause and skip in chat, thousands of them, each with its own RRULE and time
  zone. RQ's cron jobs are registered in code by the process that runs them; its scheduled jobs live in Redis, a
  second store that can disagree with the database after a restart or a Redis flush.
- Exactly once comes from the database alone: claiming an occurrence inserts its row, UNIQUE (schedule_id,
  due_at), and moves the schedule's next_run_at in the same transaction. A second scheduler, a restart or a
  clock jump can only find the row already there (and its transaction rolls back, paying nothing).
- The embedded default has no Redis: the same loop runs inline in the console.
- Every bot process ticks; `uow.try_lock("schedules")` (a PostgreSQL advisory lock, released with the
  transaction, also when a process dies) lets one of them act per pass. No leader election, no heartbeats.
- Nothing sleeps until a due time: a stored, indexed next_run_at decides what is due at each pass.
"""

from __future__ import annotations

from datetime import datetime

from core.model import Notification, NotificationType
from core.ports import UnitOfWork
from core.replies import Button, Reply, bold, code, dumps
from core.schedules import runs
from core.schedules.handlers import amount_of
from core.schedules.model import Occurrence, OccurrenceStatus, Schedule, ScheduleStatus, occurrence_key
from core.services import Services

LOCK = "schedules"
CLAIM_LIMIT = 20_000  # schedules claimed per pass; more wait for the next pass (0.5 s later)
_STEPS = 400  # occurrences one schedule may pass over in one pass (a long outage of a daily schedule)


async def tick(s: Services) -> int:
    """One pass of the due-time loop for schedules; returns how many occurrences and reminders it handled."""
    moved, to_pay = await claim(s, s.clock.now())
    return moved + (await runs.pay_due(s) if to_pay else 0)


async def claim(s: Services, now: datetime) -> tuple[int, bool]:
    """Under the lock, in one transaction: remind owners of runs coming up, and turn every due time into an
    occurrence (to pay, skipped, or missed) while moving each schedule to its next run. Returns how many it
    handled, and whether occurrences wait to be paid (these, or ones a process left behind when it died)."""
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            return 0, False
        reminded = await _remind(s, uow, now)
        due = await uow.schedules.due(now, CLAIM_LIMIT)
        if not due and not reminded:
            return 0, bool(await uow.schedules.occurrences_with(OccurrenceStatus.DUE, 1))
        occurrences: list[Occurrence] = []
        for schedule in due:
            missed = _advance(s, schedule, now, occurrences)
            if missed:
                await uow.outbox.add(_missed_notice(s, schedule, missed, now))
        await uow.schedules.add_occurrences(occurrences)
        await uow.schedules.save_many(due + reminded)
        await uow.commit()
    if reminded or any(o.status is OccurrenceStatus.MISSED for o in occurrences):
        s.notify_soon()
    return len(occurrences) + len(reminded), any(o.status is OccurrenceStatus.DUE for o in occurrences)


def _advance(s: Services, schedule: Schedule, now: datetime, out: list[Occurrence]) -> list[datetime]:
    """Every due time of `schedule` up to `now`: paid when within the grace window, else missed (never paid
    later); /schedule skip passes over the first. Returns the missed ones."""
    missed: list[datetime] = []
    for _ in range(_STEPS):
        due_at = schedule.next_run_at
        if schedule.status is not ScheduleStatus.ACTIVE or due_at is None or due_at > now:
            break
        if schedule.skip_next:
            status, schedule.skip_next = OccurrenceStatus.SKIPPED, False
        elif now - due_at > s.policy.schedule_grace:
            status = OccurrenceStatus.MISSED
            missed.append(due_at)
        else:
            status = OccurrenceStatus.DUE
        out.append(Occurrence(schedule.id, due_at, occurrence_key(schedule.id, due_at), schedule.owner_ref,
                              schedule.recipient, schedule.recipient_ref, schedule.token, schedule.amount, status, now,
                              note="the bot was down past the grace window" if missed and missed[-1] == due_at else None,
                              template=schedule.template))
        schedule.runs += 1
        schedule.next_run_at = schedule.after(due_at)
        if schedule.next_run_at is None:
            schedule.move(ScheduleStatus.DONE, now)
    schedule.updated_at = now
    return missed


async def _remind(s: Services, uow: UnitOfWork, now: datetime) -> list[Schedule]:
    """Once per occurrence, SCHEDULE_REMIND_BEFORE ahead: a DM to the owner with Skip and Pause buttons."""
    ahead = s.policy.schedule_remind_before
    if ahead.total_seconds() <= 0:
        return []
    found = [x for x in await uow.schedules.to_remind(now + ahead, CLAIM_LIMIT)
             if x.next_run_at is not None and x.next_run_at > now]
    for schedule in found:
        due_at = schedule.next_run_at
        assert due_at is not None
        schedule.reminded_for = due_at
        if schedule.skip_next:
            continue  # the owner already passed over this run: nothing to remind them of
        body = Reply.of(
            (bold("Scheduled payment"), " ", code(schedule.id), f": {amount_of(s, schedule)} to "
             f"{schedule.recipient_text} runs at {schedule.local(due_at)}."),
            ("Skip passes over this run only; Pause stops it until you resume it.",),
            buttons=(Button("Skip", f"/schedule skip {schedule.id}"), Button("Pause", f"/schedule pause {schedule.id}")),
            private=True,
        )
        await uow.outbox.add(Notification(f"{occurrence_key(schedule.id, due_at)}:remind", schedule.owner_ref,
                                          NotificationType.SCHEDULE_REMINDER, dumps(body), now))
    return found


def _missed_notice(s: Services, schedule: Schedule, missed: list[datetime], now: datetime) -> Notification:
    hours = int(s.policy.schedule_grace.total_seconds() // 3600)
    when = ", ".join(schedule.local(m) for m in missed[:5]) + (f" and {len(missed) - 5} more" if len(missed) > 5 else "")
    body = Reply.of(
        (bold("Missed"), ": scheduled payment ", code(schedule.id), f" ({amount_of(s, schedule)} to "
         f"{schedule.recipient_text}) was due at {when}."),
        (f"The bot was not running then, and a run more than {hours} h late is never paid: nothing was paid for it.",),
        (f"Next run: {schedule.local(schedule.next_run_at)}." if schedule.next_run_at else "It has no further runs.",),
        private=True,
    )
    return Notification(f"{occurrence_key(schedule.id, missed[0])}:missed", schedule.owner_ref,
                        NotificationType.SCHEDULE_RESULT, dumps(body), now)
