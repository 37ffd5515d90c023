"""SqlUnitOfWork: one database transaction exposing every repository of core.ports.UnitOfWork."""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.db import bulk_repositories, escrow_repositories, repositories
from adapters.db import schedule_repositories
from adapters.db.engine import storage_errors
from adapters.db.payee_repositories import SqlPayeeRepository, SqlTemplateRepository
from adapters.db.price_alert_repositories import SqlPriceAlertRepository
from adapters.db.web_repositories import SqlWebRepository
from core.ports import UnitOfWork

R = TypeVar("R")


def _translated(repository: R) -> R:
    """`repository`, every call of which reports driver failures as StorageUnavailable / DuplicateKey."""
    return cast(R, _Translated(repository))  # the proxy answers every attribute of `repository` (see below)


class _Translated:
    """Wraps a repository so every call reports driver failures as StorageUnavailable / DuplicateKey."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        @functools.wraps(attribute)
        async def call(*args: Any, **kwargs: Any) -> Any:
            with storage_errors():
                return await attribute(*args, **kwargs)

        setattr(self, name, call)  # build the wrapper once per unit of work and method
        return call


# Locks taken by units of work of this process on SQLite files, as (database, name). A process-local set is
# enough there: SQLite has one writer at a time (BEGIN IMMEDIATE), across processes too, and whoever holds a
# lock re-reads what it decides on inside its own transaction.
_LOCAL_LOCKS: set[tuple[str, str]] = set()


def lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of `name`: a signed 64-bit number, the same in every process."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


class SqlUnitOfWork(UnitOfWork):
    """`async with uow: ...; await uow.commit()`. Leaving the block without commit() rolls back. The
    repositories (declared by the port it implements) exist inside the block only: they work on its session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._local_locks: list[tuple[str, str]] = []

    async def __aenter__(self) -> SqlUnitOfWork:
        session = self._sessions()
        try:
            with storage_errors():
                # Connect and BEGIN now, so "database down" surfaces here rather than mid-handler.
                await session.connection()
        except BaseException:
            await session.close()
            raise
        self._session = session
        self.users = _translated(repositories.SqlUserRepository(session))
        self.intents = _translated(repositories.SqlIntentRepository(session))
        self.outbox = _translated(repositories.SqlOutboxRepository(session))
        self.keys = _translated(repositories.SqlKeyRepository(session))
        self.audit = _translated(repositories.SqlAuditRepository(session))
        self.nonces = _translated(repositories.SqlNonceRepository(session))
        self.challenges = _translated(repositories.SqlChallengeRepository(session))
        self.roles = _translated(repositories.SqlRoleRepository(session))
        self.approvals = _translated(repositories.SqlApprovalRepository(session))
        self.ledger = _translated(repositories.SqlLedgerRepository(session))
        self.payees = _translated(SqlPayeeRepository(session))
        self.templates = _translated(SqlTemplateRepository(session))
        self.price_alerts = _translated(SqlPriceAlertRepository(session))
        self.web = _translated(SqlWebRepository(session))
        self.escrows = _translated(escrow_repositories.SqlEscrowRepository(session))
        self.cursors = _translated(escrow_repositories.SqlCursorRepository(session))
        # On the same session: a chunk's signed bytes and its nonce commit together, and so do a stored batch
        # and the rows it counts against its uploader's limit.
        self.batches = _translated(bulk_repositories.SqlBatchRepository(session))
        self.uploads = _translated(bulk_repositories.SqlUploadCounts(session))
        self.schedules = _translated(schedule_repositories.SqlScheduleRepository(session))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release_local_locks()
        session, self._session = self._session, None
        if session is None:
            return
        try:
            # close() rolls back whatever was not committed and returns the connection to the pool.
            with storage_errors():
                await session.close()
        except Exception:
            if exc is None:
                raise
            # The block's own error matters more than a failed rollback on a broken connection.

    @property
    def session(self) -> AsyncSession:
        """The live session, for adapters/db internals (meta helpers, tests)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with uow:`")
        return self._session

    async def commit(self) -> None:
        try:
            with storage_errors():
                await self.session.commit()
        finally:
            self._release_local_locks()

    async def rollback(self) -> None:
        try:
            with storage_errors():
                await self.session.rollback()
        finally:
            self._release_local_locks()

    async def try_lock(self, name: str) -> bool:
        """PostgreSQL: a transaction-level advisory lock, so it is shared by every process on the database
        and released with the transaction even if this process dies. SQLite: see _LOCAL_LOCKS."""
        bind = self.session.get_bind()
        if bind.dialect.name == "postgresql":
            with storage_errors():
                taken = await self.session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
                )
            return bool(taken.scalar_one())
        held = (bind.engine.url.render_as_string(hide_password=True), name)
        if held in _LOCAL_LOCKS:
            return False
        _LOCAL_LOCKS.add(held)
        self._local_locks.append(held)
        return True

    def _release_local_locks(self) -> None:
        for held in self._local_locks:
            _LOCAL_LOCKS.discard(held)
        self._local_locks.clear()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: nothing is reloaded after commit (no surprise queries, no lazy I/O).
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def make_uow_factory(engine: AsyncEngine) -> Callable[[], SqlUnitOfWork]:
    """A UnitOfWorkFactory: each call gives a fresh, unopened SqlUnitOfWork on `engine`."""
    sessions = make_sessionmaker(engine)
    return functools.partial(SqlUnitOfWork, sessions)
