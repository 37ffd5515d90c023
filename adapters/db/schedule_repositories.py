"""SqlScheduleRepository (core.schedules.repository): schedules and their occurrences, part of every SqlUnitOfWork."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update

from adapters.db.repositories.dialect import SessionRepository, is_postgres
from adapters.db.schedule_tables import ScheduleOccurrenceRow, ScheduleRow
from core.schedules.model import Occurrence, OccurrenceStatus, Schedule, ScheduleStatus

_S, _O = ScheduleRow.__table__, ScheduleOccurrenceRow.__table__
_S_FIELDS = [c.name for c in _S.columns]
_O_FIELDS = [c.name for c in _O.columns if c.name != "id"]
_OPEN = (ScheduleStatus.ACTIVE.value, ScheduleStatus.PAUSED.value)
_CHANGING = ("status", "next_run_at", "skip_next", "reminded_for", "runs", "updated_at")


def _values(obj: Any, fields: list[str]) -> dict[str, Any]:
    values = {name: getattr(obj, name) for name in fields}
    values["status"] = obj.status.value
    return values


def _schedule(row: Any) -> Schedule:
    values = {name: getattr(row, name) for name in _S_FIELDS}
    values["status"] = ScheduleStatus(values["status"])
    return Schedule(**values)


def _occurrence(row: Any) -> Occurrence:
    values = {name: getattr(row, name) for name in _O_FIELDS}
    values["status"] = OccurrenceStatus(values["status"])
    return Occurrence(**values)


class SqlScheduleRepository(SessionRepository):
    async def _schedules(self, query: Any) -> list[Schedule]:
        return [_schedule(r) for r in (await self.session.execute(query)).all()]

    async def add(self, schedule: Schedule) -> None:
        await self.session.execute(insert(_S).values(**_values(schedule, _S_FIELDS)))

    async def get(self, schedule_id: str, *, for_update: bool = False) -> Schedule | None:
        query = select(_S).where(_S.c.id == schedule_id)
        if for_update and is_postgres(self.session):
            query = query.with_for_update()
        found = await self._schedules(query)
        return found[0] if found else None

    async def save(self, schedule: Schedule) -> None:
        await self.save_many([schedule])

    async def save_many(self, schedules: list[Schedule]) -> None:
        if not schedules:
            return
        statement = update(_S).where(_S.c.id == bindparam("b_id")).values(
            **{f: bindparam(f"b_{f}") for f in _CHANGING})
        params = [{"b_id": x.id, **{f"b_{f}": v for f, v in _values(x, list(_CHANGING)).items()}} for x in schedules]
        await self.session.execute(statement, params)

    async def open_count(self, owner_ref: str) -> int:
        query = select(func.count()).select_from(_S).where(_S.c.owner_ref == owner_ref, _S.c.status.in_(_OPEN))
        return int((await self.session.execute(query)).scalar_one())

    async def listed(self, owner_ref: str | None, limit: int) -> list[Schedule]:
        query = select(_S).where(_S.c.status.in_(_OPEN))
        if owner_ref is not None:
            query = query.where(_S.c.owner_ref == owner_ref)
        return await self._schedules(query.order_by(_S.c.next_run_at.is_(None), _S.c.next_run_at, _S.c.id).limit(limit))

    async def due(self, now: datetime, limit: int) -> list[Schedule]:
        query = select(_S).where(_S.c.status == ScheduleStatus.ACTIVE.value, _S.c.next_run_at <= now)
        return await self._schedules(query.order_by(_S.c.next_run_at, _S.c.id).limit(limit))

    async def to_remind(self, before: datetime, limit: int) -> list[Schedule]:
        query = select(_S).where(_S.c.status == ScheduleStatus.ACTIVE.value, _S.c.next_run_at <= before,
                                 or_(_S.c.reminded_for.is_(None), _S.c.reminded_for != _S.c.next_run_at))
        return await self._schedules(query.order_by(_S.c.next_run_at, _S.c.id).limit(limit))

    async def add_occurrences(self, occurrences: list[Occurrence]) -> None:
        if occurrences:
            await self.session.execute(insert(_O), [_values(o, _O_FIELDS) for o in occurrences])

    async def occurrences_with(self, status: OccurrenceStatus, limit: int) -> list[Occurrence]:
        query = select(_O).where(_O.c.status == status.value).order_by(_O.c.due_at, _O.c.key).limit(limit)
        return [_occurrence(r) for r in (await self.session.execute(query)).all()]

    async def save_occurrences(self, occurrences: list[Occurrence]) -> None:
        if not occurrences:
            return
        statement = update(_O).where(_O.c.key == bindparam("b_key")).values(
            status=bindparam("b_status"), intent_id=bindparam("b_intent_id"), batch_id=bindparam("b_batch_id"),
            note=bindparam("b_note"))
        await self.session.execute(statement, [{"b_key": o.key, "b_status": o.status.value, "b_intent_id": o.intent_id,
                                                "b_batch_id": o.batch_id, "b_note": o.note} for o in occurrences])

    async def occurrences(self, schedule_id: str, limit: int) -> list[Occurrence]:
        query = select(_O).where(_O.c.schedule_id == schedule_id).order_by(_O.c.due_at.desc()).limit(limit)
        return [_occurrence(r) for r in (await self.session.execute(query)).all()]
