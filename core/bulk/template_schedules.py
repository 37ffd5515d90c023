"""`/bulk run <template> every …`: a schedule (core.schedules) whose runs are template runs (run_template).

The schedule itself is core.schedules' own (its due loop, reminders, /schedules, pause, skip, grace window and
exactly-once occurrences); this module only fills one in for a template, with core.schedules' reading of the time.
"""

from __future__ import annotations

from datetime import UTC

from core.commands import Actor, BulkRun
from core.errors import NotAllowed, UserError
from core.money import format_units
from core.payees import PayoutTemplate
from core.replies import Button, Reply, Span, bold, code
from core.schedules.handlers import read_when
from core.schedules.model import Schedule
from core.services import Services, new_id
from core.timezones import zone_of
from core.views import counted


async def schedule_template(s: Services, cmd: BulkRun, actor: Actor, template: PayoutTemplate) -> Reply:
    """Store a schedule running `template` on `actor`'s behalf; refused like any schedule (a past date, Feb 30,
    every 0 days, too many schedules). Each run is a new batch, executed as if they pressed Execute."""
    now = s.clock.now()
    async with s.uow() as uow:
        zone = await zone_of(uow, actor.ref)
    due = read_when(cmd.when, now, zone)
    # A schedule names one amount and token; for a template that is its first token's total (what /schedules
    # and the reminders show), while the run pays every row of the template as it is then.
    token, amount = next(iter(template.totals.items()))
    schedule = Schedule(
        id=new_id("sch"), key=cmd.key, owner_ref=actor.ref, recipient="", recipient_ref=None,
        recipient_text=f"template {template.name} ({counted(template.rows, 'row')})", token=token, amount=amount,
        rule=due.rule, dtstart=due.at, tz=zone.key, phrase=due.phrase, next_run_at=due.at.astimezone(UTC),
        created_at=now, updated_at=now, template=template.id,
    )
    limit = s.policy.schedule_max_per_user
    async with s.uow() as uow:
        if not await uow.try_lock(f"schedules:{actor.ref}"):  # as core.schedules does: one count at a time
            raise NotAllowed("Another schedule of yours is being stored at this very moment; send this one again. "
                             "Nothing changed.")
        have = await uow.schedules.open_count(actor.ref)
        if have >= limit:
            raise UserError(f"schedules: you have {counted(have, 'schedule')} (active or paused), the most one person "
                            f"may keep is {limit}; cancel one with /schedule cancel <id> first.", field="schedules")
        await uow.schedules.add(schedule)
        await uow.commit()
    first = schedule.next_run_at or schedule.dtstart
    totals = ", ".join(f"{_units(s, sym, units)} {sym}" for sym, units in template.totals.items())
    lines: list[tuple[str | Span, ...]] = [
        ("Schedule ", code(schedule.id), ": template ", bold(template.name), f" ({counted(template.rows, 'row')}, "
         f"{totals}) {schedule.phrase} {schedule.tz}; next run {schedule.local(first)}."),
        ("Each run is a new batch of the template's rows as they are then, executed as if you pressed Execute: "
         "balance, limits and approvals apply to each run.",),
    ]
    return Reply.of(*lines, kind="ok", buttons=(Button("Skip next", f"/schedule skip {schedule.id}"),
                                                Button("Pause", f"/schedule pause {schedule.id}"),
                                                Button("Cancel", f"/schedule cancel {schedule.id}", "danger")))


def _units(s: Services, symbol: str, units: int) -> str:
    return format_units(units, s.token(symbol).decimals)
