"""The in-memory ScheduleRepository of tests/fakes.FakeUnitOfWork (schedules and their occurrences)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING

from core.ports import DuplicateKey
from core.schedules.model import Occurrence, OccurrenceStatus, Schedule, ScheduleStatus

if TYPE_CHECKING:
    from tests.fakes import FakeUnitOfWork, _Store

_OPEN = (ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED)


class FakeSchedules:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> _Store:
        assert self.uow.work is not None, "a repository used outside its unit of work"
        return self.uow.work

    async def add(self, schedule: Schedule) -> None:
        if schedule.id in self.s.schedules:
            raise DuplicateKey(schedule.id)
        self.s.schedules[schedule.id] = copy.deepcopy(schedule)

    async def get(self, schedule_id: str, *, for_update: bool = False) -> Schedule | None:
        return copy.deepcopy(self.s.schedules.get(schedule_id))

    async def save(self, schedule: Schedule) -> None:
        self.s.schedules[schedule.id] = copy.deepcopy(schedule)

    async def save_many(self, schedules: list[Schedule]) -> None:
        for x in schedules:
            self.s.schedules[x.id] = copy.deepcopy(x)

    async def open_count(self, owner_ref: str) -> int:
        return sum(1 for x in self.s.schedules.values() if x.owner_ref == owner_ref and x.status in _OPEN)

    async def listed(self, owner_ref: str | None, limit: int) -> list[Schedule]:
        found = [x for x in self.s.schedules.values() if x.status in _OPEN and owner_ref in (None, x.owner_ref)]
        found.sort(key=lambda x: (x.next_run_at is None, x.next_run_at or x.created_at, x.id))
        return copy.deepcopy(found[:limit])

    async def due(self, now: datetime, limit: int) -> list[Schedule]:
        found = [x for x in self.s.schedules.values()
                 if x.status is ScheduleStatus.ACTIVE and x.next_run_at is not None and x.next_run_at <= now]
        return copy.deepcopy(sorted(found, key=lambda x: (x.next_run_at, x.id))[:limit])

    async def to_remind(self, before: datetime, limit: int) -> list[Schedule]:
        found = [x for x in self.s.schedules.values()
                 if x.status is ScheduleStatus.ACTIVE and x.next_run_at is not None and x.next_run_at <= before
                 and x.reminded_for != x.next_run_at]
        return copy.deepcopy(sorted(found, key=lambda x: (x.next_run_at, x.id))[:limit])

    async def add_occurrences(self, occurrences: list[Occurrence]) -> None:
        for o in occurrences:
            if (o.schedule_id, o.due_at) in self.s.occurrences:
                raise DuplicateKey(o.key)
            self.s.occurrences[(o.schedule_id, o.due_at)] = copy.deepcopy(o)

    async def occurrences_with(self, status: OccurrenceStatus, limit: int) -> list[Occurrence]:
        found = [o for o in self.s.occurrences.values() if o.status is status]
        return copy.deepcopy(sorted(found, key=lambda o: (o.due_at, o.key))[:limit])

    async def save_occurrences(self, occurrences: list[Occurrence]) -> None:
        for o in occurrences:
            self.s.occurrences[(o.schedule_id, o.due_at)] = copy.deepcopy(o)

    async def occurrences(self, schedule_id: str, limit: int) -> list[Occurrence]:
        found = [o for o in self.s.occurrences.values() if o.schedule_id == schedule_id]
        return copy.deepcopy(sorted(found, key=lambda o: o.due_at, reverse=True)[:limit])
