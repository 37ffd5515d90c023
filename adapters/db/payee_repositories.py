"""SqlPayeeRepository and SqlTemplateRepository (core.payees): saved payees and payout templates."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, insert, select
from sqlmodel import col

from adapters.db.payee_tables import PayeeRow, PayoutTemplateLineRow, PayoutTemplateRow
from adapters.db.repositories.dialect import SessionRepository, insert_for
from core.payees import PayoutTemplate, SavedPayee, TemplateRow

_PAYEE_FIELDS = ("name", "address", "handle", "platform", "memo", "added_by", "added_at")
_LINES = PayoutTemplateLineRow.__table__


def _payee(row: PayeeRow) -> SavedPayee:
    return SavedPayee(**{f: getattr(row, f) for f in _PAYEE_FIELDS})


def _template(row: PayoutTemplateRow) -> PayoutTemplate:
    totals = {sym: int(units) for sym, units in json.loads(row.totals).items()}
    return PayoutTemplate(row.id, row.name, row.source_batch, row.rows, totals, row.created_by, row.created_at)


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with `prefix` literally (its _ and % are escaped)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class SqlPayeeRepository(SessionRepository):
    async def add(self, payee: SavedPayee) -> bool:
        # ON CONFLICT DO NOTHING: a taken name stores nothing and (on PostgreSQL) leaves the transaction usable.
        inserted = await self.session.execute(
            insert_for(self.session, PayeeRow).values(**{f: getattr(payee, f) for f in _PAYEE_FIELDS})
            .on_conflict_do_nothing(index_elements=["name"]).returning(col(PayeeRow.name))
        )
        return inserted.first() is not None

    async def get(self, name: str) -> SavedPayee | None:
        row = (await self.session.execute(select(PayeeRow).where(col(PayeeRow.name) == name.lower()))).scalar()
        return None if row is None else _payee(row)

    async def starting_with(self, prefix: str, limit: int = 20) -> list[SavedPayee]:
        query = (select(PayeeRow).where(col(PayeeRow.name).like(_like_prefix(prefix.lower()), escape="\\"))
                 .order_by(col(PayeeRow.name)).limit(limit))
        return [_payee(r) for r in (await self.session.execute(query)).scalars()]

    async def all(self) -> list[SavedPayee]:
        rows = await self.session.execute(select(PayeeRow).order_by(col(PayeeRow.name)))
        return [_payee(r) for r in rows.scalars()]

    async def remove(self, name: str) -> bool:
        done = await self.session.execute(
            delete(PayeeRow).where(col(PayeeRow.name) == name.lower()).returning(col(PayeeRow.name)))
        return done.first() is not None


class SqlTemplateRepository(SessionRepository):
    async def add(self, template: PayoutTemplate, rows: list[TemplateRow]) -> bool:
        totals = json.dumps({sym: str(units) for sym, units in template.totals.items()})
        inserted = await self.session.execute(
            insert_for(self.session, PayoutTemplateRow)
            .values(id=template.id, name=template.name, source_batch=template.source_batch, rows=template.rows,
                    totals=totals, created_by=template.created_by, created_at=template.created_at)
            .on_conflict_do_nothing().returning(col(PayoutTemplateRow.id))
        )
        if inserted.first() is None:
            return False
        if rows:  # one executemany: a template keeps up to a whole batch (10,000 rows)
            await self.session.execute(insert(_LINES), [
                {"template_id": template.id, "seq": i, "recipient": r.recipient, "token": r.token,
                 "amount": r.amount, "memo": r.memo} for i, r in enumerate(rows)])
        return True

    async def get(self, name: str) -> PayoutTemplate | None:
        query = select(PayoutTemplateRow).where(col(PayoutTemplateRow.name) == name.lower())
        row = (await self.session.execute(query)).scalar()
        return None if row is None else _template(row)

    async def by_id(self, template_id: str) -> PayoutTemplate | None:
        query = select(PayoutTemplateRow).where(col(PayoutTemplateRow.id) == template_id)
        row = (await self.session.execute(query)).scalar()
        return None if row is None else _template(row)

    async def rows(self, template_id: str) -> list[TemplateRow]:
        found = await self.session.execute(
            select(_LINES.c.recipient, _LINES.c.token, _LINES.c.amount, _LINES.c.memo)
            .where(_LINES.c.template_id == template_id).order_by(_LINES.c.seq))
        return [TemplateRow(r.recipient, r.token, r.amount, r.memo) for r in found]

    async def all(self) -> list[PayoutTemplate]:
        rows = await self.session.execute(select(PayoutTemplateRow).order_by(col(PayoutTemplateRow.name)))
        return [_template(r) for r in rows.scalars()]

    async def paying(self, address: str) -> list[PayoutTemplate]:
        using = select(_LINES.c.template_id).where(func.lower(_LINES.c.recipient) == address.lower())
        rows = await self.session.execute(
            select(PayoutTemplateRow).where(col(PayoutTemplateRow.id).in_(using)).order_by(col(PayoutTemplateRow.name)))
        return [_template(r) for r in rows.scalars()]
