"""Executor nonces: each reserved once, under the database's lock, by every process sharing the executor key."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col

from adapters.db.repositories.dialect import SessionRepository, insert_for, is_postgres
from adapters.db.tables import NonceRow


class SqlNonceRepository(SessionRepository):
    async def reserve(self, chain_id: int, address: str, floor: int) -> int:
        # One statement: create the row at floor+1, or move it to max(next, floor)+1; either way it returns
        # the reserved value. The row lock (PostgreSQL) or the write lock (SQLite, BEGIN IMMEDIATE) is held
        # until the unit of work ends, so a concurrent reserve waits and then sees our value: a rollback
        # leaves the nonce to the next caller, a commit moves everyone past it.
        larger = func.greatest if is_postgres(self.session) else func.max  # SQLite's two-argument max()
        statement = insert_for(self.session, NonceRow).values(
            chain_id=chain_id, address=address.lower(), next_nonce=floor + 1
        )
        statement = statement.on_conflict_do_update(
            index_elements=["chain_id", "address"],
            set_={"next_nonce": larger(col(NonceRow.next_nonce), floor) + 1},
        ).returning(col(NonceRow.next_nonce))
        next_nonce = (await self.session.execute(statement)).scalar_one()
        return next_nonce - 1
