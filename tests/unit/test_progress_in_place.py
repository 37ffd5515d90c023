"""Engine.deliver_notifications: bulk progress goes to a notifier's send_in_place when it has one."""

from __future__ import annotations

from datetime import UTC, datetime

from core.engine import Engine
from core.model import Notification, NotificationType
from core.ports import Delivery
from core.replies import Reply, dumps
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier


class EditingNotifier(FakeNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.in_place: list[tuple[str, str, str]] = []

    async def send_in_place(self, user_ref, reply, slot):
        self.in_place.append((user_ref, slot, reply.plain()))
        return Delivery(ok=True)


async def _engine_with(*notifications: Notification) -> Engine:
    db = FakeDatabase()
    engine = Engine(chain=FakeChain(), uow=db, clock=FakeClock(), policy=Policy())
    async with db() as uow:
        for n in notifications:
            await uow.outbox.add(n)
        await uow.commit()
    return engine


def _n(key: str, kind: NotificationType, text: str) -> Notification:
    return Notification(key, "telegram:1", kind, dumps(Reply.of(text)), datetime(2026, 11, 26, tzinfo=UTC))


async def test_progress_is_edited_in_place_and_the_rest_is_sent():
    engine = await _engine_with(
        _n("bulk-a:progress:1", NotificationType.BATCH_PROGRESS, "1/3"),
        _n("bulk-a:progress:2", NotificationType.BATCH_PROGRESS, "2/3"),
        _n("bulk-a:done", NotificationType.BATCH_COMPLETE, "done"),
    )
    notifier = EditingNotifier()
    assert await engine.deliver_notifications(notifier) == 3
    assert notifier.in_place == [("telegram:1", "bulk-a:progress", "1/3"), ("telegram:1", "bulk-a:progress", "2/3")]
    assert [r.plain() for _, r in notifier.sent] == ["done"]


async def test_a_notifier_without_in_place_gets_every_progress_message():
    engine = await _engine_with(_n("bulk-b:progress:1", NotificationType.BATCH_PROGRESS, "1/2"))
    notifier = FakeNotifier()
    assert await engine.deliver_notifications(notifier) == 1
    assert [r.plain() for _, r in notifier.sent] == ["1/2"]
