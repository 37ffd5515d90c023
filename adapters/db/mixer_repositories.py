"""The mixer's storage: SqlDepositLog (the mixer's DepositLog), each pool's Deposit events and last synced block; and
SqlRelayLog (the mixer's RelayLog), the relayer's nonces, signed transactions and failed relays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from adapters.db.engine import storage_errors
from adapters.db.mixer_tables import MixerDepositRow, MixerRelayFailureRow, MixerRelayRow, MixerSyncRow
from adapters.db.repositories import SqlNonceRepository, insert_for
from adapters.db.uow import make_sessionmaker

_D, _S = MixerDepositRow.__table__, MixerSyncRow.__table__
_F = MixerRelayFailureRow.__table__
# Failed relays limit for an hour; a day's worth is kept for whoever investigates, then forgotten (each row
# ties a user to a nullifier hash, which becomes public when the note is spent).
KEEP_FAILURES = timedelta(days=1)
TRYING = "trying"  # an attempt not settled yet counts as failed: a crashed process errs on the safe side


def _insert(connection: AsyncConnection, table):  # noqa: ANN001,ANN202 - a dialect-specific Insert
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


class StoredDeposit(NamedTuple):
    """One stored Deposit event, in the field order of the mixer's PoolDeposit (which this package cannot import)."""

    commitment: int
    leaf_index: int
    timestamp: int
    block_number: int
    tx_hash: str


# What the mixer hands over to store: its PoolDeposit, a tuple in the same order.
DepositRow = tuple[int, int, int, int, str]


class SqlDepositLog:
    """Public data only: commitments, leaf indices, blocks and transaction hashes (a note never reaches here)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, chain_id: int, pool: str) -> tuple[list[StoredDeposit], int] | None:
        pool = pool.lower()
        with storage_errors():
            async with self._engine.connect() as connection:
                synced = (await connection.execute(
                    select(_S.c.synced_block).where(_S.c.chain_id == chain_id, _S.c.pool == pool))).scalar()
                if synced is None:
                    return None
                rows = await connection.execute(
                    select(_D).where(_D.c.chain_id == chain_id, _D.c.pool == pool).order_by(_D.c.leaf_index))
                deposits = [StoredDeposit(int(r.commitment, 16), r.leaf_index, r.timestamp, r.block_number, r.tx_hash)
                            for r in rows]
        return deposits, int(synced)

    async def append(self, chain_id: int, pool: str, deposits: Sequence[DepositRow], synced_block: int) -> None:
        with storage_errors():
            async with self._engine.begin() as connection:
                await self._write(connection, chain_id, pool.lower(), deposits, synced_block)

    async def replace(self, chain_id: int, pool: str, deposits: Sequence[DepositRow], synced_block: int) -> None:
        pool = pool.lower()
        with storage_errors():
            async with self._engine.begin() as connection:
                await connection.execute(delete(_D).where(_D.c.chain_id == chain_id, _D.c.pool == pool))
                await self._write(connection, chain_id, pool, deposits, synced_block)

    @staticmethod
    async def _write(connection: AsyncConnection, chain_id: int, pool: str, deposits: Sequence[DepositRow],
                     synced_block: int) -> None:
        if deposits:
            # A leaf re-read after a shallow reorg may come back in another block or transaction: overwrite.
            statement = _insert(connection, _D)
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["chain_id", "pool", "leaf_index"],
                    set_={name: statement.excluded[name] for name in ("commitment", "block_number", "tx_hash",
                                                                      "timestamp")},
                ),
                [{"chain_id": chain_id, "pool": pool, "leaf_index": d.leaf_index, "commitment": f"0x{d.commitment:064x}",
                  "block_number": d.block_number, "tx_hash": d.tx_hash, "timestamp": d.timestamp}
                 for d in map(StoredDeposit._make, deposits)],
            )
        statement = _insert(connection, _S).values(chain_id=chain_id, pool=pool, synced_block=synced_block,
                                                   updated_at=datetime.now(timezone.utc))
        await connection.execute(statement.on_conflict_do_update(
            index_elements=["chain_id", "pool"],
            set_={"synced_block": statement.excluded.synced_block, "updated_at": statement.excluded.updated_at},
        ))


class _Slot:
    """The mixer's RelaySlot: a reserved nonce and the open transaction that reserved it."""

    def __init__(self, session: AsyncSession, chain_id: int, relayer: str, nonce: int) -> None:
        self._session, self._chain_id, self._relayer, self.nonce = session, chain_id, relayer, nonce

    async def keep(self, tx_hash: str, raw: bytes) -> None:
        values = {"tx_hash": tx_hash, "raw_tx": raw, "signed_at": datetime.now(timezone.utc)}
        statement = insert_for(self._session, MixerRelayRow).values(
            chain_id=self._chain_id, relayer=self._relayer, nonce=self.nonce, **values)
        # A nonce signed again (its first transaction never reached the chain) keeps the newer bytes.
        with storage_errors():
            await self._session.execute(statement.on_conflict_do_update(
                index_elements=["chain_id", "relayer", "nonce"], set_=values))


class SqlRelayLog:
    """The relayer's nonces live in executor_nonces (keyed by address), reserved by the executor's own
    SqlNonceRepository, so every bot process relaying from one database takes a different nonce."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def sending(self, chain_id: int, relayer: str, floor: int) -> AsyncIterator[_Slot]:
        async with self._sessions() as session:  # leaving it without commit() rolls back
            with storage_errors():
                nonce = await SqlNonceRepository(session).reserve(chain_id, relayer, floor)
            yield _Slot(session, chain_id, relayer.lower(), nonce)
            with storage_errors():
                await session.commit()

    async def attempt(self, note_id: str, user_ref: str, at: datetime) -> int:
        with storage_errors():
            async with self._engine.begin() as connection:
                await connection.execute(delete(_F).where(_F.c.at < at - KEEP_FAILURES))
                inserted = await connection.execute(
                    _F.insert().values(note_id=note_id, user_ref=user_ref, reason=TRYING, at=at).returning(_F.c.id))
                return int(inserted.scalar_one())

    async def settle(self, attempt_id: int, reason: str | None, tx_hash: str | None = None) -> None:
        with storage_errors():
            async with self._engine.begin() as connection:
                if reason is None:
                    await connection.execute(delete(_F).where(_F.c.id == attempt_id))
                else:
                    await connection.execute(
                        _F.update().where(_F.c.id == attempt_id).values(reason=reason[:64], tx_hash=tx_hash))

    async def failures(self, note_id: str, user_ref: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
        with storage_errors():
            async with self._engine.connect() as connection:
                by_note = await connection.execute(
                    select(_F.c.at).where(_F.c.note_id == note_id, _F.c.at >= since).order_by(_F.c.at))
                notes = list(by_note.scalars())
                by_user = await connection.execute(
                    select(_F.c.at).where(_F.c.user_ref == user_ref, _F.c.at >= since).order_by(_F.c.at))
                return notes, list(by_user.scalars())
