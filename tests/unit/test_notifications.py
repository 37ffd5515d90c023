"""core.notifications.deliver: failed sends are retried under the lease, at most MAX_ATTEMPTS times, and not
sooner than the platform asked."""

from __future__ import annotations

from datetime import UTC, datetime

from core.engine import Engine
from core.model import DeliveryStatus, Notification, NotificationType
from core.notifications import DELIVERY_LEASE, MAX_ATTEMPTS
from core.ports import Delivery
from core.replies import Reply, dumps
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier


class RefusingNotifier(FakeNotifier):
    """A platform that keeps refusing, for now: each send fails with `retry_after` (or without one)."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__()
        self.tries = 0
        self.retry_after = retry_after

    async def send(self, user_ref, reply):
        self.tries += 1
        return Delivery(ok=False, retry_after=self.retry_after, error=f"refused #{self.tries}")


async def _world() -> tuple[Engine, FakeDatabase, FakeClock]:
    db, clock = FakeDatabase(), FakeClock()
    engine = Engine(chain=FakeChain(), uow=db, clock=clock, policy=Policy())
    async with db() as uow:
        await uow.outbox.add(Notification("n-1", "telegram:1", NotificationType.PAYMENT_SENT, dumps(Reply.of("paid")),
                                          datetime(2026, 11, 26, tzinfo=UTC)))
        await uow.commit()
    return engine, db, clock


async def test_a_notification_that_keeps_failing_is_given_up_after_max_attempts():
    engine, db, clock = await _world()
    notifier = RefusingNotifier()
    for _ in range(MAX_ATTEMPTS + 3):
        assert await engine.deliver_notifications(notifier) == 0
        clock.advance(seconds=DELIVERY_LEASE.total_seconds() + 1)  # the claim ran out: it may be tried again
    assert notifier.tries == MAX_ATTEMPTS
    [n] = db.store.outbox
    assert n.status is DeliveryStatus.UNDELIVERABLE and n.attempts == MAX_ATTEMPTS
    assert n.last_error == f"refused #{MAX_ATTEMPTS}"


async def test_a_failed_send_is_not_tried_again_before_the_platforms_retry_after():
    engine, db, clock = await _world()
    wait = DELIVERY_LEASE.total_seconds() * 3
    notifier = RefusingNotifier(retry_after=wait)
    await engine.deliver_notifications(notifier)
    clock.advance(seconds=DELIVERY_LEASE.total_seconds() + 1)  # past the lease, not past the wait asked for
    await engine.deliver_notifications(notifier)
    assert notifier.tries == 1
    clock.advance(seconds=wait)
    notifier.retry_after = None
    await engine.deliver_notifications(notifier)
    assert notifier.tries == 2 and db.store.outbox[0].status is DeliveryStatus.PENDING


async def test_a_short_retry_after_keeps_the_lease():
    """A platform asking for less than the lease gets the lease: a failed row is never tried sooner than before."""
    engine, _, clock = await _world()
    notifier = RefusingNotifier(retry_after=1.0)
    await engine.deliver_notifications(notifier)
    clock.advance(seconds=5)
    await engine.deliver_notifications(notifier)
    assert notifier.tries == 1
