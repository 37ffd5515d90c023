"""What every repository shares: the unit of work's session, and what PostgreSQL and SQLite spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.db.tables import Table


def insert_for(session: AsyncSession, row_class: type[Table]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both PostgreSQL and SQLite spell it the same)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(row_class)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class SessionRepository:
    """A repository over the unit of work's session: it reads and writes, the unit of work commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
