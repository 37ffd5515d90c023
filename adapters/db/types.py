"""Column types that keep money exact and timestamps in UTC on both PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.dialects.postgresql import NUMERIC
from sqlalchemy.types import TypeDecorator, TypeEngine

UINT256_MAX = 2**256 - 1


class Uint256(TypeDecorator[int]):
    """An int in 0..2**256-1. NUMERIC(78,0) on PostgreSQL; a decimal string on SQLite.

    SQLite gives a NUMERIC column numeric affinity and keeps anything past 2**63 as a REAL (a float), so the
    column is declared VARCHAR there (text affinity) and never summed or compared in SQL on that backend.
    """

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(78, 0))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= UINT256_MAX:
            raise ValueError(f"not a uint256 amount: {value!r}")
        # Decimal(int) is exact whatever the context precision.
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        # A Decimal from NUMERIC(78,0) (or SUM over it) has no fractional part; a str from SQLite is digits.
        return None if value is None else int(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; SQLite hands back naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(timezone.utc)
        # SQLite keeps the text it is given; without tzinfo every row has the same fixed-width UTC form,
        # so ORDER BY on the text is chronological.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
