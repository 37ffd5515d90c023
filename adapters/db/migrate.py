"""Run the Alembic migrations in migrations/ against a database URL, from code, from any directory."""

from __future__ import annotations

import asyncio
from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from adapters.db.engine import create_engine_for, storage_errors


_LOCK_KEY = 0x534E4F57  # "SNOW": an arbitrary, fixed advisory-lock id for migrations


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code: the scripts are found through the `migrations` package, not the cwd."""
    spec = find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the migrations package is not installed alongside adapters.db")
    config = Config()
    config.set_main_option("script_location", str(Path(next(iter(spec.submodule_search_locations)))))
    if url is not None:
        config.attributes["url"] = url  # as an attribute: set_main_option would %-interpolate a password
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (default: the newest)."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, lambda config: command.downgrade(config, revision))


def upgrade_sync(url: str, revision: str = "head") -> None:
    """upgrade() for callers without an event loop (the CLI, RQ workers)."""
    asyncio.run(upgrade(url, revision))


async def _run(url: str, action) -> None:  # noqa: ANN001 - a callable taking the Alembic Config
    config = alembic_config(url)
    engine = create_engine_for(url)

    def in_transaction(connection: Connection) -> None:
        config.attributes["connection"] = connection
        action(config)

    try:
        with storage_errors():
            async with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Several processes may start at once against a fresh database: one migrates, the
                    # others wait here, then find it at head. The lock ends with the transaction.
                    await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
                await connection.run_sync(in_transaction)
    finally:
        await engine.dispose()
