"""The in-memory WebRepository (core.dashboard) of tests/fakes.FakeUnitOfWork."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from core.bulk.model import Batch
from core.dashboard import Cursor, DaySpend, LedgerFilter, LedgerPart
from core.ledger import Outflow, OutflowKind, OutflowStatus
from core.model import Notification
from core.ports import DuplicateKey

if TYPE_CHECKING:
    from tests.fakes import FakeUnitOfWork, _Store


class FakeWeb:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> _Store:
        assert self.uow.work is not None, "a repository used outside its unit of work"
        return self.uow.work

    async def use_link(self, link_id: str, user_ref: str, used_at: datetime, expires_at: datetime) -> None:
        if link_id in self.s.web_links:
            raise DuplicateKey(link_id)
        self.s.web_links.add(link_id)

    async def link_used(self, link_id: str) -> bool:
        return link_id in self.s.web_links

    async def ledger_page(self, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        found = [o for o in await self.uow.ledger.outflows(None) if _matches(o, where)]
        if after is not None:
            key = (after.at, after.batch_id, after.line, after.id)
            found = [o for o in found if o.order < key]
        return found[:limit]

    async def batches(self, limit: int) -> list[Batch]:
        return sorted(self.s.batches.values(), key=lambda b: (b.created_at, b.id), reverse=True)[:limit]

    async def ledger_part(self, part: LedgerPart, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        bulk = part is LedgerPart.BULK
        return [o for o in await self.ledger_page(where, after, 10**9) if (o.kind is OutflowKind.BULK) == bulk][:limit]

    async def spending(self, since: datetime) -> list[DaySpend]:
        per: dict[tuple[date, str], int] = {}
        for o in await self.uow.ledger.outflows(None):
            if o.at >= since and o.status is not OutflowStatus.FAILED:
                per[(o.at.date(), o.token)] = per.get((o.at.date(), o.token), 0) + o.amount
        return [DaySpend(day, token, amount) for (day, token), amount in sorted(per.items())]

    async def notifications(self, user_ref: str, limit: int) -> list[Notification]:
        mine = [n for n in self.s.outbox if n.user_ref == user_ref]
        return sorted(mine, key=lambda n: n.created_at, reverse=True)[:limit]

    async def read_until(self, user_ref: str) -> datetime | None:
        return self.s.web_reads.get(user_ref)

    async def mark_read(self, user_ref: str, at: datetime) -> None:
        self.s.web_reads[user_ref] = at


def _matches(o: Outflow, where: LedgerFilter) -> bool:
    return ((where.since is None or o.at >= where.since) and (where.until is None or o.at < where.until)
            and (where.token is None or o.token == where.token) and (where.person is None or o.requester == where.person)
            and (where.status is None or o.status is where.status))
