"""The chat commands of schedules: /pay … at|every …, /schedules, /schedule pause|resume|cancel|skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.commands import ChangeSchedule, Pay, Schedules
from core.errors import NotAllowed, UserError
from core.model import ProcessedKey
from core.money import format_units
from core.payments.handlers import SPEND_REFUSAL
from core.replies import Button, Reply, Span, bold, code, dumps
from core.schedules.model import Schedule, ScheduleStatus
from core.schedules.naming import schedule_named
from core.services import Services, new_id, resolve_recipient
from core.timezones import zone_of
from core.understand import when as when_
from core.views import counted

LIST_LIMIT = 50
_FILLER = frozenset({"at", "on", "the", "from", "starting", "and", "of", ","})  # left over around a date


def read_when(text: str | None, now: datetime, zone: ZoneInfo) -> when_.When:
    """The first due time and repeat of a /pay condition, read in the payer's zone; UserError naming the problem
    (a past date, Feb 30, every 0 days, an until before the start, words left over) when it cannot be scheduled."""
    phrase = (text or "").strip()
    try:
        rest, due = when_.extract(phrase.lower(), now.astimezone(zone), zone, protect=lambda _: False)
    except when_.Unclear as e:
        raise UserError(e.message, field=e.field) from None
    except (ValueError, OverflowError):  # a date beyond the calendar
        raise UserError("when: that date is out of range; write it as YYYY-MM-DD.", field="at") from None
    left = " ".join(w for w in rest.split() if w not in _FILLER)
    if due is None:
        raise UserError(f"when: I could not read a time in “{phrase[:60]}”; write e.g. at 2026-12-01 09:00 or every "
                        "month on the 1st at 09:00.", field="at")
    if left:
        raise UserError(f"when: I do not understand “{left[:40]}” in “{phrase[:60]}”; write e.g. at 2026-12-01 09:00 "
                        "or every friday at 09:00.", field="at")
    return due


async def schedule_pay(s: Services, cmd: Pay) -> Reply:
    """An operator's /pay with a time or a repeat: stored at once, previewed with its next run; nothing is signed
    until the due-time loop (core.schedules.due) reaches it."""
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(SPEND_REFUSAL)
    token = s.token(cmd.amount.token.symbol)
    now = s.clock.now()
    async with s.uow() as uow:
        zone = await zone_of(uow, cmd.actor.ref)
        payee = await resolve_recipient(uow, cmd.recipient, platform=cmd.actor.platform)
    if payee.address.lower() in (s.chain.treasury.lower(), s.chain.executor.lower()):
        raise UserError("address: that is the treasury's or the executor's own address; schedule a payment to "
                        "someone else.", field="address")
    due = read_when(cmd.when, now, zone)
    schedule = Schedule(
        id=new_id("sch"), key=cmd.key, owner_ref=cmd.actor.ref, recipient=payee.address, recipient_ref=payee.ref,
        recipient_text=str(cmd.recipient), token=token.symbol, amount=cmd.amount.units, rule=due.rule,
        dtstart=due.at, tz=zone.key, phrase=due.phrase, next_run_at=due.at.astimezone(UTC),
        created_at=now, updated_at=now,
    )
    reply = preview(s, schedule, payee.who if payee.named else None)
    limit = s.policy.schedule_max_per_user
    async with s.uow() as uow:
        if not await uow.try_lock(f"schedules:{cmd.actor.ref}"):  # two /pay at once cannot both pass the count
            raise NotAllowed("Another schedule of yours is being stored at this very moment; send this one again. "
                             "Nothing changed.")
        have = await uow.schedules.open_count(cmd.actor.ref)
        if have >= limit:
            raise UserError(f"schedules: you have {counted(have, 'schedule')} (active or paused), the most one person "
                            f"may keep is {limit}; cancel one with /schedule cancel <id> first.", field="schedules")
        await uow.schedules.add(schedule)
        await uow.keys.add(ProcessedKey(cmd.key, "pay", cmd.actor.ref, now, reply=dumps(reply)))
        await uow.commit()
    return reply


def amount_of(s: Services, schedule: Schedule) -> str:
    token = s.token(schedule.token)
    return f"{format_units(schedule.amount, token.decimals)} {token.symbol}"


def preview(s: Services, schedule: Schedule, who: str | None = None) -> Reply:
    to = who or schedule.recipient_text
    first = schedule.next_run_at or schedule.dtstart
    lines: list[tuple[str | Span, ...]] = [
        ("Schedule ", code(schedule.id), ": ", bold(amount_of(s, schedule)), f" to {to} {schedule.phrase} {schedule.tz}"
         f"; next run {schedule.local(first)}."),
    ]
    if who is not None or schedule.recipient_text != schedule.recipient:
        lines.append(("Address: ", code(schedule.recipient)))
    lines.append((f"I will remind you {_span(s.policy.schedule_remind_before)} before each run, and tell you the result."
                  " Limits and approvals apply to each run as to any /pay.",))
    return Reply.of(*lines, buttons=(Button("Skip next", f"/schedule skip {schedule.id}"),
                                     Button("Pause", f"/schedule pause {schedule.id}"),
                                     Button("Cancel", f"/schedule cancel {schedule.id}", "danger")))


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return counted(seconds // 3600, "hour")
    return counted(max(seconds // 60, 1), "minute")


def line(s: Services, schedule: Schedule, *, owner: bool = False) -> tuple[str | Span, ...]:
    when = schedule.local(schedule.next_run_at) if schedule.next_run_at else "none"
    state = "" if schedule.status is ScheduleStatus.ACTIVE else f" [{schedule.status.value}]"
    skip = " (next run skipped)" if schedule.skip_next else ""
    who = f"  by {schedule.owner_ref}" if owner else ""
    return (code(schedule.id), f"  {amount_of(s, schedule)} to {schedule.recipient_text} {schedule.phrase} "
            f"{schedule.tz}{state}  next: {when}{skip}{who}")


async def list_schedules(s: Services, cmd: Schedules) -> Reply:
    admin = cmd.actor.role is not None and cmd.actor.role.may_manage
    async with s.uow() as uow:
        found = await uow.schedules.listed(None if admin else cmd.actor.ref, LIST_LIMIT)
    if not found:
        return Reply.of("No scheduled payments. An operator schedules one with e.g. "
                        "/pay @bob 100 USDC every month on the 1st at 09:00.", private=True)
    head = f"{'All' if admin else 'Your'} {counted(len(found), 'scheduled payment')}:"
    return Reply.of(head, *(line(s, x, owner=admin and x.owner_ref != cmd.actor.ref) for x in found), private=True)


async def change(s: Services, cmd: ChangeSchedule) -> Reply:
    """Pause, resume, cancel or skip the next run: the owner, or an admin. `cmd.ref` is an id, or a name that
    identifies one of the caller's own live schedules (core.schedules.naming)."""
    now = s.clock.now()
    admin = cmd.actor.role is not None and cmd.actor.role.may_manage
    async with s.uow() as uow:
        schedule = await uow.schedules.get(cmd.ref, for_update=True)
        if schedule is None or (schedule.owner_ref != cmd.actor.ref and not admin):
            named = await schedule_named(uow, cmd.ref, owner_ref=cmd.actor.ref, platform=cmd.actor.platform)
            schedule = await uow.schedules.get(named.id, for_update=True)
            if schedule is None:  # cancelled by its owner between the two reads
                raise UserError(f"id: no schedule {cmd.ref} of yours was found; /schedules lists yours.", field="id")
        if schedule.status in (ScheduleStatus.CANCELLED, ScheduleStatus.DONE):
            raise UserError(f"{schedule.id} is {schedule.status.value}; nothing to {cmd.action}.")
        if cmd.action == "pause":
            if schedule.status is ScheduleStatus.PAUSED:
                raise UserError(f"{schedule.id} is already paused; /schedule resume {schedule.id} starts it again.")
            schedule.move(ScheduleStatus.PAUSED, now)
            head = f"Paused {schedule.id}: nothing runs until /schedule resume {schedule.id}."
        elif cmd.action == "resume":
            if schedule.status is ScheduleStatus.ACTIVE:
                raise UserError(f"{schedule.id} is already active.")
            schedule.move(ScheduleStatus.ACTIVE, now)
            if schedule.next_run_at is not None and schedule.next_run_at <= now:
                # Runs that fell due while it was paused are passed over, never paid late.
                schedule.next_run_at = schedule.after(now)
                if schedule.next_run_at is None:
                    schedule.move(ScheduleStatus.DONE, now)
            head = f"Resumed {schedule.id}."
        elif cmd.action == "cancel":
            schedule.move(ScheduleStatus.CANCELLED, now)
            head = f"Cancelled {schedule.id}: it will not run again."
        else:
            if schedule.next_run_at is None:
                raise UserError(f"{schedule.id} has no next run to skip.")
            if schedule.skip_next:
                raise UserError(f"The next run of {schedule.id} ({schedule.local(schedule.next_run_at)}) is already "
                                "skipped; only the next one can be.")
            schedule.skip_next = True
            schedule.updated_at = now
            after = schedule.after(schedule.next_run_at)
            then = f"; the one after is {schedule.local(after)}" if after else "; it has no run after that"
            head = f"Skipping the run of {schedule.id} on {schedule.local(schedule.next_run_at)}{then}."
        await uow.schedules.save(schedule)
        await uow.commit()
    nxt = schedule.local(schedule.next_run_at) if schedule.next_run_at and schedule.status is ScheduleStatus.ACTIVE \
        else "none"
    return Reply.of(head, line(s, schedule), f"Next run: {nxt}.")
