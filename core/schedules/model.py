"""A schedule (a treasury payment at a time, or on an RFC 5545 repeat) and its occurrences, each paid at most once."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from core.model import IllegalTransition


class ScheduleStatus(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"  # kept, nothing runs; /schedule resume picks up from the next run after now
    CANCELLED = "cancelled"
    DONE = "done"  # a one-off that ran, or a repeat past its until/times


_MOVES: dict[ScheduleStatus, set[ScheduleStatus]] = {
    ScheduleStatus.ACTIVE: {ScheduleStatus.PAUSED, ScheduleStatus.CANCELLED, ScheduleStatus.DONE},
    ScheduleStatus.PAUSED: {ScheduleStatus.ACTIVE, ScheduleStatus.CANCELLED},
    ScheduleStatus.CANCELLED: set(),
    ScheduleStatus.DONE: set(),
}


class OccurrenceStatus(str, enum.Enum):
    DUE = "due"  # claimed by the due-time loop; its payment is being created
    PAYING = "paying"  # its payment exists (an intent, or a row of a batch): the payment's own state says the rest
    WAITING = "waiting"  # its payment waits for approvers (over the threshold or the owner's daily limit)
    SKIPPED = "skipped"  # /schedule skip
    MISSED = "missed"  # the bot was down past the grace window: reported, never paid
    REFUSED = "refused"  # not paid: the owner may no longer spend, or nobody could approve it (`note` says)


@dataclass
class Schedule:
    """What to pay, to whom, and when. `rule` is an RRULE without DTSTART (None: once, at `dtstart`); it is
    read in the zone `tz` from `dtstart`, so a daylight-saving change keeps the wall-clock time."""

    id: str  # "sch-…"
    key: str  # the /pay message's idempotency key
    owner_ref: str
    recipient: str  # the address paid
    recipient_ref: str | None  # the person behind it, if known
    recipient_text: str  # what the owner typed: an address, @handle or mention
    token: str
    amount: int  # base units
    rule: str | None
    dtstart: datetime  # aware: the first due time
    tz: str
    phrase: str  # as the owner reads it: "every month on the 1st at 09:00"
    next_run_at: datetime | None  # UTC; None once nothing is left to run
    created_at: datetime
    updated_at: datetime
    status: ScheduleStatus = ScheduleStatus.ACTIVE
    skip_next: bool = False
    reminded_for: datetime | None = None  # the due time the last reminder was about (one per occurrence)
    template: str | None = None  # a bulk template run on this schedule instead of a single payment
    runs: int = 0  # occurrences handled (paid, skipped, missed or refused)

    def move(self, to: ScheduleStatus, now: datetime) -> None:
        if to not in _MOVES[self.status]:
            raise IllegalTransition(f"schedule {self.id} is {self.status.value} and cannot become {to.value}")
        self.status = to
        self.updated_at = now

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def until(self) -> datetime | None:
        m = re.search(r"UNTIL=(\d{8}T\d{6})Z", self.rule or "")
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC) if m else None

    @property
    def count(self) -> int | None:
        m = re.search(r"COUNT=(\d+)", self.rule or "")
        return int(m.group(1)) if m else None

    def after(self, moment: datetime) -> datetime | None:
        """The first due time strictly after `moment` (UTC), or None when the schedule has no more."""
        if self.rule is None:
            return None if moment >= self.dtstart else self.dtstart.astimezone(UTC)
        local = _rule(self.rule, self.dtstart.astimezone(self.zone)).after(moment.astimezone(self.zone), inc=False)
        return None if local is None else local.astimezone(UTC)

    def local(self, moment: datetime) -> str:
        """`moment` on the owner's wall clock, e.g. "2026-12-01 09:00 CET"."""
        return f"{moment.astimezone(self.zone):%Y-%m-%d %H:%M %Z}"


@lru_cache(maxsize=4096)
def _rule(rule: str, dtstart: datetime) -> rrule:
    # The wall-clock times come from the rule read in the owner's zone (dtstart carries it); converting each
    # to UTC afterwards is what keeps 09:00 at 09:00 across a daylight-saving change.
    parsed = rrulestr(rule, dtstart=dtstart)
    assert isinstance(parsed, rrule)
    return parsed


def occurrence_key(schedule_id: str, due_at: datetime) -> str:
    """The idempotency key of one occurrence's payment: "sch-<id>-<due time, UTC>"."""
    return f"{schedule_id}-{due_at.astimezone(UTC):%Y%m%dT%H%MZ}"


@dataclass
class Occurrence:
    """One due time of a schedule; (schedule_id, due_at) is UNIQUE: the claim that it is paid at most once. The
    payment's details are copied here, as they were when it ran."""

    schedule_id: str
    due_at: datetime  # UTC
    key: str  # occurrence_key(): the payment's idempotency key
    owner_ref: str
    recipient: str
    recipient_ref: str | None
    token: str
    amount: int
    status: OccurrenceStatus
    created_at: datetime
    intent_id: str | None = None  # paid alone
    batch_id: str | None = None  # paid as a row of this batch (with the other occurrences due with it)
    note: str | None = None
    template: str | None = None
