"""Storage of schedules and their occurrences, as the core asks for it (adapters/db and tests/fakes implement it)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.schedules.model import Occurrence, OccurrenceStatus, Schedule


class ScheduleRepository(Protocol):
    async def add(self, schedule: Schedule) -> None: ...
    async def get(self, schedule_id: str, *, for_update: bool = False) -> Schedule | None: ...
    async def save(self, schedule: Schedule) -> None: ...
    async def save_many(self, schedules: list[Schedule]) -> None:
        """Write status, next_run_at, skip_next, reminded_for, runs and updated_at of each."""
    async def open_count(self, owner_ref: str) -> int:
        """How many of this person's schedules are active or paused (SCHEDULE_MAX_PER_USER)."""
    async def listed(self, owner_ref: str | None, limit: int) -> list[Schedule]:
        """Active and paused schedules, of `owner_ref` (None: everyone's), soonest next run first."""
    async def due(self, now: datetime, limit: int) -> list[Schedule]:
        """Active schedules whose next run is at or before `now`, earliest first (the indexed next_run_at)."""
    async def to_remind(self, before: datetime, limit: int) -> list[Schedule]:
        """Active schedules whose next run is at or before `before` and not yet reminded about (reminded_for)."""
    async def add_occurrences(self, occurrences: list[Occurrence]) -> None:
        """Insert them; raises DuplicateKey (on flush or commit) when one (schedule_id, due_at) exists already."""
    async def occurrences_with(self, status: OccurrenceStatus, limit: int) -> list[Occurrence]:
        """Oldest due first."""
    async def save_occurrences(self, occurrences: list[Occurrence]) -> None:
        """Write status, intent_id, batch_id and note of each."""
    async def occurrences(self, schedule_id: str, limit: int) -> list[Occurrence]:
        """Newest due first."""
