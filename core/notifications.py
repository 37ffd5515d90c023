"""Delivering the outbox: claiming pending notifications, sending each through a Notifier, and progress slots."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.model import DeliveryStatus, Notification, NotificationType
from core.ports import Delivery, Notifier
from core.replies import loads
from core.services import Services

# A deliverer claims this many notifications at a time, and holds them for DELIVERY_LEASE: far longer than
# sending a page takes (even through Telegram's 1 message/s per chat), short enough that a dead worker's page
# goes out soon after.
DELIVERY_PAGE = 10
DELIVERY_LEASE = timedelta(minutes=2)
# A notification that failed this many sends is given up on (undeliverable, with its last error): at one try
# per lease that is about twenty minutes of a platform refusing it, and a stuck row stops costing a send per page.
MAX_ATTEMPTS = 10


def progress_slot(notification: Notification) -> str | None:
    """Progress notifications of one batch share a slot: each is delivered by EDITING the message last sent
    for that slot (Notifier.send_in_place). Other notifications: None."""
    if notification.type is not NotificationType.BATCH_PROGRESS:
        return None
    return notification.dedup_key.rsplit(":", 1)[0]


async def deliver(
    s: Services, notifier: Notifier, *, platform: str | None = None, limit: int = 100, lease: timedelta = DELIVERY_LEASE
) -> int:
    """Deliver pending outbox rows (at least once; dedup keys make repeats harmless). Returns sent count.
    Rows are claimed a page at a time under a lease, so deliverers running at once (the compose file runs
    two workers) never send the same notification; a deliverer that dies leaves its page to the others
    once the lease has run out, and a failed send is tried again after it (or after the wait the platform
    asked for, if longer), at most MAX_ATTEMPTS times."""
    sent = handled = 0
    while handled < limit:
        now = s.clock.now()
        async with s.uow() as uow:
            page = await uow.outbox.claim(min(DELIVERY_PAGE, limit - handled), now=now, until=now + lease,
                                          platform=platform)
            await uow.commit()
        if not page:
            break
        handled += len(page)
        for n in page:
            slot = progress_slot(n)
            body = loads(n.body)
            result = await (notifier.send_in_place(n.user_ref, body, slot) if slot else notifier.send(n.user_ref, body))
            sent += await _record(s, n, result, held_until=now + lease)
    return sent


async def _record(s: Services, n: Notification, result: Delivery, *, held_until: datetime) -> int:
    """Write the outcome of one send; 1 if it was sent."""
    now = s.clock.now()
    retry_at = None
    n.attempts += 1
    if result.ok:
        n.status, n.sent_at = DeliveryStatus.SENT, now
    elif result.undeliverable or n.attempts >= MAX_ATTEMPTS:
        n.status, n.last_error = DeliveryStatus.UNDELIVERABLE, result.error
    else:
        n.last_error = result.error
        if result.retry_after is not None:  # the claim already holds it until held_until; wait longer if asked
            retry_at = max(held_until, now + timedelta(seconds=result.retry_after))
    async with s.uow() as uow:
        await uow.outbox.save(n, retry_at=retry_at)
        await uow.commit()
    return 1 if result.ok else 0
