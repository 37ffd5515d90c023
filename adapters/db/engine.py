"""Engines from DATABASE_URL (asyncpg / aiosqlite), SQLite connection setup, and mapping "database down"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.errors import StorageUnavailable
from core.ports import DuplicateKey

SQLITE_BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 5


def redact(url: str | URL) -> str:
    """The URL with any password replaced, fit for logs and error messages."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def normalise_url(url: str | URL) -> URL:
    """postgres:// and postgresql:// -> postgresql+asyncpg://; sqlite:// -> sqlite+aiosqlite://."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        # Not echoed: where the password sits in a string that does not parse cannot be known.
        raise ValueError("DATABASE_URL is not a database URL (postgresql://... or sqlite:///path)") from None
    driver = parsed.drivername
    if driver in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        return parsed.set(drivername="postgresql+asyncpg")
    if driver == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if driver in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        return parsed
    raise ValueError(f"unsupported database {driver!r} in {redact(parsed)}; use postgresql:// or sqlite:///")


def create_engine_for(url: str | URL, **overrides: Any) -> AsyncEngine:
    """An AsyncEngine for DATABASE_URL. Connects lazily: nothing touches the database until first use."""
    target = normalise_url(url)
    if target.get_backend_name() == "sqlite":
        return _sqlite_engine(target, overrides)
    options: dict[str, Any] = {
        "pool_size": 5,
        "max_overflow": 10,
        # Fail fast into StorageUnavailable instead of hanging a chat reply on a dead server.
        "pool_timeout": POOL_TIMEOUT_S,
        "pool_pre_ping": True,  # survives a server restart without one failed command per pooled connection
        "pool_recycle": 1800,
        "connect_args": {"timeout": CONNECT_TIMEOUT_S},
    }
    options.update(overrides)
    return create_async_engine(target, **options)


def _sqlite_engine(target: URL, overrides: dict[str, Any]) -> AsyncEngine:
    options: dict[str, Any] = {}
    in_memory = target.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every checkout would see a different empty database. So an in-memory
        # database suits one unit of work at a time (tests, scripts), not concurrent ones.
        options["poolclass"] = StaticPool
    options.update(overrides)
    engine = create_async_engine(target, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            # FULL: a committed signed transaction survives a power cut; it may already be on the chain.
            cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front. A deferred transaction that reads and later writes can fail with
        # SQLITE_BUSY without waiting (busy_timeout does not apply to a lock upgrade in WAL mode); and a
        # nonce read under the write lock cannot be read by another connection at the same time.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# ------------------------------------------------------------------ errors
# Unique constraints whose violation means "another request recorded this idempotency key first".
_IDEMPOTENCY_CONSTRAINTS = ("pk_processed_keys", "processed_keys.key", "uq_intents_key", "intents.key",
                            "uq_escrows_key", "escrows.key")
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o", "readonly", "database or disk is full")


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot be reached or is not answering (worth retrying)."""
    if isinstance(error, (OSError, TimeoutError, exc.TimeoutError)):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, exc.InterfaceError):
            return True
        if isinstance(error, exc.OperationalError):
            # On PostgreSQL these are connection, shutdown and resource failures; on SQLite the same class
            # also covers mistakes such as "no such table", which are not transient.
            if "sqlite" in type(error.orig).__module__:
                return any(word in str(error.orig).lower() for word in _SQLITE_UNAVAILABLE)
            return True
        return False
    # asyncpg raises some connection failures before SQLAlchemy can wrap them.
    module = type(error).__module__
    return module.startswith("asyncpg") and type(error).__name__ in (
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "TooManyConnectionsError",
        "InterfaceError",
        "InternalClientError",
    )


def is_duplicate_key(error: BaseException) -> bool:
    if not isinstance(error, exc.IntegrityError):
        return False
    text = str(error.orig)
    return any(name in text for name in _IDEMPOTENCY_CONSTRAINTS)


@contextmanager
def storage_errors() -> Iterator[None]:
    """Translate driver failures into the core's words: StorageUnavailable and DuplicateKey.

    The messages never carry the URL (so never the password); the original stays as __cause__ for logs.
    """
    try:
        yield
    except (StorageUnavailable, DuplicateKey):
        raise
    except exc.IntegrityError as error:
        if is_duplicate_key(error):
            raise DuplicateKey(str(error.orig).splitlines()[0]) from error
        raise
    except exc.StatementError as error:
        if not isinstance(error, exc.DBAPIError) and isinstance(error.orig, ValueError):
            # A value our column types refused (a naive datetime, an amount outside uint256): the caller's bug.
            raise ValueError(str(error.orig)) from error
        if is_unavailable(error):
            raise StorageUnavailable() from error
        raise
    except Exception as error:
        if is_unavailable(error):
            raise StorageUnavailable() from error
        raise
