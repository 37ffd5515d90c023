"""The notification outbox: rows written with the state change that causes them, claimed under a lease to deliver."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import col

from adapters.db.repositories.dialect import SessionRepository, insert_for, is_postgres
from adapters.db.tables import NotificationRow
from core.model import DeliveryStatus, Notification, NotificationType


def _notification(row: NotificationRow) -> Notification:
    return Notification(
        dedup_key=row.dedup_key,
        user_ref=row.user_ref,
        type=NotificationType(row.type),
        body=row.body,
        created_at=row.created_at,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=row.sent_at,
        id=row.id,
    )


def _notification_values(n: Notification) -> dict[str, Any]:
    return {
        "dedup_key": n.dedup_key,
        "user_ref": n.user_ref,
        "type": n.type.value,
        "body": n.body,
        "created_at": n.created_at,
        "status": n.status.value,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "sent_at": n.sent_at,
    }


class SqlOutboxRepository(SessionRepository):
    async def add(self, notification: Notification) -> None:
        inserted = await self.session.execute(
            insert_for(self.session, NotificationRow)
            .values(**_notification_values(notification))
            .on_conflict_do_nothing(index_elements=["dedup_key"])
            .returning(col(NotificationRow.id))
        )
        new_id = inserted.scalar_one_or_none()
        if new_id is not None:
            notification.id = new_id

    async def pending(self, limit: int = 100) -> list[Notification]:
        query = (
            select(NotificationRow)
            .where(col(NotificationRow.status) == DeliveryStatus.PENDING.value)
            .order_by(col(NotificationRow.id))
            .limit(limit)
        )
        return [_notification(row) for row in (await self.session.execute(query)).scalars()]

    async def claim(self, limit: int, *, now: datetime, until: datetime, platform: str | None = None) -> list[Notification]:
        free = [
            col(NotificationRow.status) == DeliveryStatus.PENDING.value,
            or_(col(NotificationRow.claimed_until).is_(None), col(NotificationRow.claimed_until) <= now),
        ]
        if platform:
            free.append(col(NotificationRow.user_ref).startswith(f"{platform}:", autoescape=True))
        # PostgreSQL: rows another claimer has locked are skipped, and ours stay locked until commit, so no two
        # claimers get one row. (Not one UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED):
        # on PostgreSQL that claimed every free row, not n.) SQLite: every transaction
        # begins IMMEDIATE (adapters.db.engine), so claimers take turns and the lease alone does it.
        chosen = select(col(NotificationRow.id)).where(*free).order_by(col(NotificationRow.id)).limit(limit)
        if is_postgres(self.session):
            chosen = chosen.with_for_update(skip_locked=True)
        ids = list((await self.session.execute(chosen)).scalars())
        if not ids:
            return []
        claimed = await self.session.execute(
            update(NotificationRow)
            .where(col(NotificationRow.id).in_(ids))
            .values(claimed_until=until)
            .returning(NotificationRow)
            .execution_options(synchronize_session=False)
        )
        return sorted((_notification(row) for row in claimed.scalars()), key=lambda n: n.id or 0)

    async def save(self, notification: Notification, *, retry_at: datetime | None = None) -> None:
        values = _notification_values(notification)
        if retry_at is not None:
            values["claimed_until"] = retry_at
        await self.session.execute(
            update(NotificationRow).where(col(NotificationRow.dedup_key) == notification.dedup_key).values(**values)
        )
