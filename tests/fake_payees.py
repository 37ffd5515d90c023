"""The in-memory PayeeRepository and TemplateRepository of tests/fakes.FakeUnitOfWork."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from core.payees import PayoutTemplate, SavedPayee, TemplateRow

if TYPE_CHECKING:
    from tests.fakes import FakeUnitOfWork, _Store


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> _Store:
        assert self.uow.work is not None, "a repository used outside its unit of work"
        return self.uow.work


class FakePayees(_Repo):
    async def add(self, payee: SavedPayee) -> bool:
        if payee.name.lower() in self.s.payees:
            return False
        self.s.payees[payee.name.lower()] = payee
        return True

    async def get(self, name: str) -> SavedPayee | None:
        return self.s.payees.get(name.lower())

    async def starting_with(self, prefix: str, limit: int = 20) -> list[SavedPayee]:
        return [p for n, p in sorted(self.s.payees.items()) if n.startswith(prefix.lower())][:limit]

    async def all(self) -> list[SavedPayee]:
        return [p for _, p in sorted(self.s.payees.items())]

    async def remove(self, name: str) -> bool:
        return self.s.payees.pop(name.lower(), None) is not None


class FakeTemplates(_Repo):
    async def add(self, template: PayoutTemplate, rows: list[TemplateRow]) -> bool:
        if any(t.name == template.name.lower() or t.id == template.id for t, _ in self.s.templates.values()):
            return False
        self.s.templates[template.id] = (copy.deepcopy(template), list(rows))
        return True

    async def get(self, name: str) -> PayoutTemplate | None:
        return next((copy.deepcopy(t) for t, _ in self.s.templates.values() if t.name == name.lower()), None)

    async def by_id(self, template_id: str) -> PayoutTemplate | None:
        found = self.s.templates.get(template_id)
        return copy.deepcopy(found[0]) if found else None

    async def rows(self, template_id: str) -> list[TemplateRow]:
        found = self.s.templates.get(template_id)
        return list(found[1]) if found else []

    async def all(self) -> list[PayoutTemplate]:
        return sorted((copy.deepcopy(t) for t, _ in self.s.templates.values()), key=lambda t: t.name)

    async def paying(self, address: str) -> list[PayoutTemplate]:
        using = [t for t, rows in self.s.templates.values() if any(r.recipient.lower() == address.lower() for r in rows)]
        return sorted((copy.deepcopy(t) for t in using), key=lambda t: t.name)
