"""Price alerts over one AsyncSession (core.pricealerts.PriceAlertRepository)."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlmodel import col

from adapters.db.price_alert_tables import PriceAlertRow
from adapters.db.repositories.dialect import SessionRepository
from core.pricealerts import BIGGEST_PRICE, MOST_PER_PASS, PriceAlert

_FIELDS = ("id", "owner_ref", "pair", "above", "threshold", "decimals", "active", "on_side", "crossings",
           "created_at", "last_fired_at", "cancelled_at")


def _alert(row: PriceAlertRow) -> PriceAlert:
    return PriceAlert(**{f: getattr(row, f) for f in _FIELDS})


class SqlPriceAlertRepository(SessionRepository):
    async def add(self, alert: PriceAlert) -> None:
        self.session.add(PriceAlertRow(**{f: getattr(alert, f) for f in _FIELDS}))
        await self.session.flush()

    async def get(self, alert_id: str) -> PriceAlert | None:
        query = select(PriceAlertRow).where(col(PriceAlertRow.id) == alert_id)
        row = (await self.session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
        return None if row is None else _alert(row)

    async def save(self, alert: PriceAlert) -> None:
        row = await self.session.get(PriceAlertRow, alert.id)
        assert row is not None, f"price alert {alert.id} was never added"
        for f in _FIELDS[1:]:
            setattr(row, f, getattr(alert, f))
        await self.session.flush()

    async def for_owner(self, owner_ref: str) -> list[PriceAlert]:
        rows = await self.session.execute(
            select(PriceAlertRow).where(col(PriceAlertRow.owner_ref) == owner_ref, col(PriceAlertRow.active))
            .order_by(col(PriceAlertRow.created_at), col(PriceAlertRow.id))
        )
        return [_alert(r) for r in rows.scalars()]

    async def pairs(self) -> list[str]:
        rows = await self.session.execute(
            select(col(PriceAlertRow.pair)).where(col(PriceAlertRow.active)).distinct().order_by(col(PriceAlertRow.pair))
        )
        return list(rows.scalars())

    async def changing(self, pair: str, decimals: int, answer: int, limit: int = MOST_PER_PASS) -> list[PriceAlert]:
        # Thresholds are at most BIGGEST_PRICE, so an answer clamped into BIGINT compares the same way.
        a = max(min(answer, BIGGEST_PRICE), -BIGGEST_PRICE)
        t, side, above = col(PriceAlertRow.threshold), col(PriceAlertRow.on_side), col(PriceAlertRow.above)
        on = or_(and_(above, t < a), and_(~above, t > a))
        off = or_(and_(above, t >= a), and_(~above, t <= a))
        moved = or_(and_(on, side.is_not(True)), and_(off, side.is_not(False)))  # IS NOT: NULL (never read) too
        rows = await self.session.execute(
            select(PriceAlertRow)
            .where(col(PriceAlertRow.active), col(PriceAlertRow.pair) == pair, col(PriceAlertRow.decimals) == decimals, moved)
            .order_by(col(PriceAlertRow.created_at), col(PriceAlertRow.id)).limit(limit)
        )
        return [_alert(r) for r in rows.scalars()]
