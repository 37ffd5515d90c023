"""SqlDepositLog (core.ports.DepositLog): each mixer pool's Deposit events and last synced block, in the database."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.db.engine import storage_errors
from adapters.db.mixer_tables import MixerDepositRow, MixerSyncRow
from core.ports import PoolDeposit

_D, _S = MixerDepositRow.__table__, MixerSyncRow.__table__


def _insert(connection: AsyncConnection, table):  # noqa: ANN001,ANN202 - a dialect-specific Insert
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)


class SqlDepositLog:
    """Public data only: commitments, leaf indices, blocks and transaction hashes (a note never reaches here)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self, chain_id: int, pool: str) -> tuple[list[PoolDeposit], int] | None:
        pool = pool.lower()
        with storage_errors():
            async with self._engine.connect() as connection:
                synced = (await connection.execute(
                    select(_S.c.synced_block).where(_S.c.chain_id == chain_id, _S.c.pool == pool))).scalar()
                if synced is None:
                    return None
                rows = await connection.execute(
                    select(_D).where(_D.c.chain_id == chain_id, _D.c.pool == pool).order_by(_D.c.leaf_index))
                deposits = [PoolDeposit(int(r.commitment, 16), r.leaf_index, r.timestamp, r.block_number, r.tx_hash)
                            for r in rows]
        return deposits, int(synced)

    async def append(self, chain_id: int, pool: str, deposits: list[PoolDeposit], synced_block: int) -> None:
        with storage_errors():
            async with self._engine.begin() as connection:
                await self._write(connection, chain_id, pool.lower(), deposits, synced_block)

    async def replace(self, chain_id: int, pool: str, deposits: list[PoolDeposit], synced_block: int) -> None:
        pool = pool.lower()
        with storage_errors():
            async with self._engine.begin() as connection:
                await connection.execute(delete(_D).where(_D.c.chain_id == chain_id, _D.c.pool == pool))
                await self._write(connection, chain_id, pool, deposits, synced_block)

    @staticmethod
    async def _write(connection: AsyncConnection, chain_id: int, pool: str, deposits: list[PoolDeposit],
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
                  "block_number": d.block_number, "tx_hash": d.tx_hash, "timestamp": d.timestamp} for d in deposits],
            )
        statement = _insert(connection, _S).values(chain_id=chain_id, pool=pool, synced_block=synced_block,
                                                   updated_at=datetime.now(timezone.utc))
        await connection.execute(statement.on_conflict_do_update(
            index_elements=["chain_id", "pool"],
            set_={"synced_block": statement.excluded.synced_block, "updated_at": statement.excluded.updated_at},
        ))
