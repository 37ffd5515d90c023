"""What became of each command: its idempotency key with the stored outcome, and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import desc, select, update
from sqlmodel import col

from adapters.db.repositories.dialect import SessionRepository, insert_for
from adapters.db.tables import AuditRow, ProcessedKeyRow, RoleRow
from core.model import AuditEntry, ProcessedKey
from core.roles import Role, RoleGrant
from core.ports import DuplicateKey


_KEY_FIELDS = ("key", "command", "actor_ref", "created_at", "intent_id", "reply")


class SqlKeyRepository(SessionRepository):
    async def get(self, key: str) -> ProcessedKey | None:
        row = (await self.session.execute(select(ProcessedKeyRow).where(col(ProcessedKeyRow.key) == key))).scalar()
        return None if row is None else ProcessedKey(**{name: getattr(row, name) for name in _KEY_FIELDS})

    async def add(self, record: ProcessedKey) -> None:
        # ON CONFLICT DO NOTHING rather than a failing INSERT: on PostgreSQL a unique violation would abort
        # the whole transaction, and the caller may still want to read the first outcome in it.
        inserted = await self.session.execute(
            insert_for(self.session, ProcessedKeyRow)
            .values(**{name: getattr(record, name) for name in _KEY_FIELDS})
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(col(ProcessedKeyRow.key))
        )
        if inserted.first() is None:
            raise DuplicateKey(record.key)

    async def save(self, record: ProcessedKey) -> None:
        await self.session.execute(
            update(ProcessedKeyRow)
            .where(col(ProcessedKeyRow.key) == record.key)
            .values(**{name: getattr(record, name) for name in _KEY_FIELDS if name != "key"})
        )


_AUDIT_FIELDS = ("actor_ref", "command", "key", "outcome", "detail", "at", "role", "amount", "token", "decimals")


class SqlAuditRepository(SessionRepository):
    async def add(self, entry: AuditEntry) -> None:
        self.session.add(AuditRow(**{name: getattr(entry, name) for name in _AUDIT_FIELDS}))

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        rows = await self.session.execute(select(AuditRow).order_by(desc(col(AuditRow.id))).limit(limit))
        return [AuditEntry(id=row.id, **{name: getattr(row, name) for name in _AUDIT_FIELDS}) for row in rows.scalars()]

    async def since(self, start: datetime | None) -> list[AuditEntry]:
        query = select(AuditRow).order_by(col(AuditRow.id))
        if start is not None:
            query = query.where(col(AuditRow.at) >= start)
        rows = await self.session.execute(query)
        return [AuditEntry(id=row.id, **{name: getattr(row, name) for name in _AUDIT_FIELDS}) for row in rows.scalars()]


class SqlRoleRepository(SessionRepository):
    async def get(self, user_ref: str) -> RoleGrant | None:
        row = await self.session.get(RoleRow, user_ref)
        return None if row is None else _grant(row)

    async def put(self, grant: RoleGrant) -> None:
        values = {"role": grant.role.value, "changed_by": grant.changed_by, "changed_at": grant.changed_at}
        await self.session.execute(
            insert_for(self.session, RoleRow)
            .values(user_ref=grant.user_ref, **values)
            .on_conflict_do_update(index_elements=["user_ref"], set_=values)
        )

    async def all(self) -> list[RoleGrant]:
        rows = await self.session.execute(select(RoleRow).order_by(col(RoleRow.user_ref)))
        return [_grant(row) for row in rows.scalars()]


def _grant(row: RoleRow) -> RoleGrant:
    return RoleGrant(row.user_ref, Role(row.role), row.changed_by, row.changed_at)
