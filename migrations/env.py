"""Alembic environment: async engines from adapters.db, target metadata from adapters.db.tables."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from adapters.db.engine import create_engine_for
from adapters.db.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table (a no-op on PostgreSQL).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    # adapters.db.migrate passes the URL as an attribute: ini interpolation would mangle a '%' in a password.
    url = config.attributes.get("url") or os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set DATABASE_URL (or sqlalchemy.url in alembic.ini) to say which database to migrate")
    return url


async def _run_async() -> None:
    engine = create_engine_for(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=str(create_engine_for(_url()).url),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    # Called from adapters.db.migrate with a connection it already opened (inside its event loop).
    _run(shared)
else:
    if config.config_file_name is not None:  # the alembic command line: log as alembic.ini says
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_async())
