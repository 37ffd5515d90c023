"""DATABASE_URL handling, SQLite settings, "database down" as StorageUnavailable, and statement latency."""

from __future__ import annotations

import traceback
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from adapters.db import create_engine_for, get_meta, make_uow_factory, normalise_url
from core.errors import StorageUnavailable
from core.model import AuditEntry, Intent, ProcessedKey, User

SECRET = "s3cr3t-Passw0rd"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/snow", "postgresql+asyncpg://u:p@db:5432/snow"),
        ("postgresql://u:p@db/snow", "postgresql+asyncpg://u:p@db/snow"),
        ("postgresql+asyncpg://u@db/snow", "postgresql+asyncpg://u@db/snow"),
        ("sqlite:///relative.sqlite3", "sqlite+aiosqlite:///relative.sqlite3"),
        ("sqlite:////abs/path.sqlite3", "sqlite+aiosqlite:////abs/path.sqlite3"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url", [f"mysql://root:{SECRET}@db/x", f"not a url {SECRET}", f"postgres://u:{SECRET}@db:port/x"]
)
def test_bad_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValueError) as refused:
        create_engine_for(url)
    assert SECRET not in _everything(refused.value)


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    engine = create_engine_for(sqlite_url)
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
        assert pragmas == ["wal", 5000, 1]
    finally:
        await engine.dispose()


def _everything(error: BaseException) -> str:
    """The message, the repr and the whole chained traceback: what could end up in a log or a chat."""
    return f"{error}\n{error!r}\n" + "".join(traceback.format_exception(error))


async def test_postgres_down_is_storage_unavailable_without_the_password() -> None:
    engine = create_engine_for(f"postgresql://snowrail:{SECRET}@127.0.0.1:1/snowrail")  # nothing listens on 1
    try:
        with pytest.raises(StorageUnavailable) as down:
            async with make_uow_factory(engine)():
                pass
        assert down.value.service == "database"
        assert SECRET not in _everything(down.value)
        with pytest.raises(StorageUnavailable):
            await get_meta(engine, "chain_id")
    finally:
        await engine.dispose()


async def test_unopenable_sqlite_file_is_storage_unavailable(tmp_path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}")
    try:
        with pytest.raises(StorageUnavailable):
            async with make_uow_factory(engine)():
                pass
    finally:
        await engine.dispose()


async def test_out_of_range_amounts_are_refused(uow) -> None:
    now = datetime.now(timezone.utc)
    for amount in (-1, 2**256):
        with pytest.raises(ValueError, match="uint256"):
            async with uow() as u:
                await u.intents.add(Intent("pay-x", "k-x", "telegram:1", "0x0", "CRO", amount, "0x1", now, now))
                await u.commit()


async def test_a_typical_command_round_trip_stores_intent_key_and_audit(uow) -> None:
    """upsert the actor, check the key, store intent + key + audit, commit: 60 rounds (speed: bench/, not here)."""
    start = datetime(2026, 11, 26, tzinfo=timezone.utc)
    for n in range(60):
        now = start + timedelta(seconds=n)
        async with uow() as u:
            await u.users.upsert(User("telegram:1", "telegram", "1", "Alice", "alice", created_at=now))
            key = f"tg-1-{n}"
            await u.intents.add(Intent(f"pay-{n}", key, "telegram:1", "0x0", "CRO", 10**19, f"0x{n:064x}", now, now))
            assert await u.keys.get(key) is None
            await u.keys.add(ProcessedKey(key, "pay", "telegram:1", now, intent_id=f"pay-{n}"))
            await u.commit()
        async with uow() as u:
            await u.audit.add(AuditEntry("telegram:1", "pay", f"tg-1-{n}", "ok", "paid", now))
            await u.commit()
    async with uow() as u:
        assert (await u.keys.get("tg-1-59")) is not None and len(await u.audit.recent(100)) == 60
        assert [i.id for i in await u.intents.for_actor("telegram:1", 2)] == ["pay-59", "pay-58"]
