"""Alembic migrations on both backends: up, down, up again, and no drift from the SQLModel metadata."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from adapters.db import create_engine_for, downgrade, upgrade
from adapters.db.tables import metadata

REPO = Path(__file__).resolve().parents[3]
TABLES = {table.name for table in metadata.sorted_tables}


async def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_from_any_directory(empty_db_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the scripts are found through the package, not the working directory
    await upgrade(empty_db_url)
    assert await _tables(empty_db_url) == TABLES | {"alembic_version"}
    await upgrade(empty_db_url)  # already at head: nothing to do, no error
    await downgrade(empty_db_url)
    assert await _tables(empty_db_url) == {"alembic_version"}
    await upgrade(empty_db_url)
    assert await _tables(empty_db_url) == TABLES | {"alembic_version"}


async def test_migrations_match_the_models(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        async with engine.connect() as connection:

            def differences(sync) -> list:  # noqa: ANN001
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                with warnings.catch_warnings():
                    # SQLite cannot reflect expression indexes; they are checked by name below instead.
                    warnings.filterwarnings("ignore", ".*expression-based index")
                    return compare_metadata(context, metadata)

            assert await connection.run_sync(differences) == []
            if engine.dialect.name == "sqlite":
                found = await connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
                indexes = {name: ddl for name, ddl in found}
                assert "lower(wallet)" in indexes["ix_users_wallet_lower"]
                assert "lower(handle)" in indexes["ix_identities_handle_lower"]
    finally:
        await engine.dispose()


def test_alembic_command_line_uses_alembic_ini(sqlite_url: str) -> None:
    environment = {**os.environ, "DATABASE_URL": sqlite_url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), "upgrade", "head"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Running upgrade  -> 0001" in done.stderr
