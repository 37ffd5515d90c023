"""The table of price alerts (core.pricealerts), declared on adapters.db.tables' metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlmodel import Field

from adapters.db.tables import Table, _utc


class PriceAlertRow(Table, table=True):
    """One /alert. The threshold is a price scaled to the feed's decimals, not money: BIGINT (core.pricealerts
    refuses larger ones), so the due-time pass compares it in SQL on both backends. The index serves that pass:
    the active alerts of one pair around a price."""

    __tablename__ = "price_alerts"
    __table_args__ = (
        Index("ix_price_alerts_active_pair_threshold", "active", "pair", "threshold"),
        Index("ix_price_alerts_owner_ref_active", "owner_ref", "active"),
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    owner_ref: str = Field(sa_type=String(128))
    pair: str = Field(sa_type=String(40))
    above: bool
    threshold: int = Field(sa_type=BigInteger)
    decimals: int = Field(sa_type=Integer)
    active: bool = True
    on_side: bool | None = None  # where the last fresh reading put the price; None: no fresh reading yet
    crossings: int = Field(default=0, sa_type=Integer)
    created_at: datetime = _utc()
    last_fired_at: datetime | None = _utc(nullable=True)
    cancelled_at: datetime | None = _utc(nullable=True)
