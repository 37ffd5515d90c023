"""The `meta` key/value table: facts about the database itself (e.g. which chain a SQLite file serves)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from adapters.db.engine import storage_errors
from adapters.db.tables import MetaRow

Executor = AsyncEngine | AsyncConnection | AsyncSession

_table = MetaRow.__table__


async def get_meta(target: Executor, key: str) -> str | None:
    """The value stored under `key`, or None. An engine gets its own short transaction."""
    statement = select(_table.c.value).where(_table.c.key == key)
    with storage_errors():
        if isinstance(target, AsyncEngine):
            async with target.connect() as connection:
                return (await connection.execute(statement)).scalar()
        return (await target.execute(statement)).scalar()


async def set_meta(target: Executor, key: str, value: str) -> None:
    """Store `value` under `key`. On an engine this commits; on a connection or session the caller does."""
    with storage_errors():
        if isinstance(target, AsyncEngine):
            async with target.begin() as connection:
                await connection.execute(_upsert(connection.dialect.name, key, value))
            return
        dialect = (target.get_bind() if isinstance(target, AsyncSession) else target).dialect.name
        await target.execute(_upsert(dialect, key, value))


def _upsert(dialect: str, key: str, value: str):  # noqa: ANN202 - a dialect-specific Insert
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_table).values(key=key, value=value)
    return statement.on_conflict_do_update(index_elements=["key"], set_={"value": statement.excluded.value})
