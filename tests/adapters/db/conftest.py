"""Fixtures for adapters/db tests: migrated databases on both backends and units of work over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db import SqlUnitOfWork, create_engine_for, make_uow_factory, upgrade
from adapters.db.tables import metadata
from tests.fixtures.databases import *  # noqa: F403

_migrated: set[str] = set()


@pytest.fixture
async def migrated_url(db_url: str) -> str:
    """db_url at head with every table empty (the PostgreSQL database is migrated once a session)."""
    if db_url.startswith("sqlite"):
        await upgrade(db_url)
        return db_url
    if db_url not in _migrated:
        await upgrade(db_url)
        _migrated.add(db_url)
    engine = create_engine_for(db_url)
    try:
        async with engine.begin() as connection:
            names = ", ".join(table.name for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    finally:
        await engine.dispose()
    return db_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine_for(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def uow(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    """The unit-of-work factory the engine would be given."""
    return make_uow_factory(engine)
