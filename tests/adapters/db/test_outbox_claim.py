"""Outbox delivery on SQLite and PostgreSQL: rows are claimed under a lease, so deliverers never send one twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from adapters.db import create_engine_for, make_uow_factory
from core.engine import DELIVERY_LEASE, Engine
from core.model import Notification, NotificationType
from core.ports import Delivery
from core.replies import Reply, dumps
from core.services import Policy
from tests.fakes import FakeChain, FakeClock


class CountingNotifier:
    """Records every send by the notification's text (its dedup key); yields between sends, as a network would."""

    def __init__(self, sends: Counter) -> None:
        self.sends = sends

    async def send(self, user_ref, reply):
        await asyncio.sleep(0.005)
        self.sends[reply.plain()] += 1
        return Delivery(ok=True)


def _n(key: str, user_ref: str = "telegram:1") -> Notification:
    return Notification(key, user_ref, NotificationType.PAYMENT_SENT, dumps(Reply.of(key)), datetime(2026, 11, 26, tzinfo=UTC))


async def _fill(uow, notifications: list[Notification]) -> None:
    async with uow() as u:
        for n in notifications:
            await u.outbox.add(n)
        await u.commit()


async def test_low_two_deliverers_never_send_the_same_notification(migrated_url: str) -> None:
    engines = [create_engine_for(migrated_url), create_engine_for(migrated_url)]  # two workers' pools
    try:
        clock = FakeClock()
        keys = [f"n-{i}" for i in range(60)]
        await _fill(make_uow_factory(engines[0]), [_n(k, f"telegram:{i % 7}") for i, k in enumerate(keys)])
        workers = [Engine(chain=FakeChain(), uow=make_uow_factory(e), clock=clock, policy=Policy()) for e in engines]
        for e in engines:  # both pools connected, so neither starts late
            async with make_uow_factory(e)() as u:
                await u.outbox.pending(1)
        sends: Counter = Counter()
        sent = await asyncio.gather(*(w.deliver_notifications(CountingNotifier(sends), limit=100) for w in workers))
        assert sum(sent) == 60 and all(sent), sent  # both took part
        assert sorted(sends) == sorted(keys) and set(sends.values()) == {1}, [k for k, c in sends.items() if c > 1]
        async with make_uow_factory(engines[1])() as u:
            assert await u.outbox.pending() == []
    finally:
        for e in engines:
            await e.dispose()


async def test_low_a_dead_deliverers_rows_are_delivered_once_its_lease_runs_out(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        uow, clock = make_uow_factory(engine), FakeClock()
        await _fill(uow, [_n("a"), _n("b"), _n("c", "discord:2")])
        async with uow() as u:  # a worker claims two telegram rows, then dies before sending them
            now = clock.now()
            claimed = await u.outbox.claim(5, now=now, until=now + DELIVERY_LEASE, platform="telegram")
            await u.commit()
        assert sorted(n.dedup_key for n in claimed) == ["a", "b"]
        worker, sends = Engine(chain=FakeChain(), uow=uow, clock=clock, policy=Policy()), Counter()
        assert await worker.deliver_notifications(CountingNotifier(sends), platform="telegram") == 0
        assert await worker.deliver_notifications(CountingNotifier(sends), platform="discord") == 1
        clock.advance(seconds=DELIVERY_LEASE.total_seconds() + 1)
        assert await worker.deliver_notifications(CountingNotifier(sends), platform="telegram") == 2
        assert sends == Counter({"a": 1, "b": 1, "c": 1})
        async with uow() as u:
            assert await u.outbox.pending() == []
            assert await u.outbox.claim(5, now=clock.now() + timedelta(days=1), until=clock.now()) == []
    finally:
        await engine.dispose()


async def test_low_a_failed_send_waits_for_its_lease_then_is_tried_again(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    try:
        uow, clock = make_uow_factory(engine), FakeClock()
        await _fill(uow, [_n("flaky")])
        worker = Engine(chain=FakeChain(), uow=uow, clock=clock, policy=Policy())

        class Flaky:
            calls = 0

            async def send(self, user_ref, reply):
                self.calls += 1
                return Delivery(ok=self.calls > 1, error=None if self.calls > 1 else "HTTP 502")

        notifier = Flaky()
        assert await worker.deliver_notifications(notifier) == 0
        assert await worker.deliver_notifications(notifier) == 0 and notifier.calls == 1  # still leased
        clock.advance(seconds=DELIVERY_LEASE.total_seconds())
        assert await worker.deliver_notifications(notifier) == 1
        async with uow() as u:
            assert await u.outbox.pending() == []
    finally:
        await engine.dispose()


async def test_a_row_saved_with_retry_at_is_not_claimed_before_then(migrated_url: str) -> None:
    """The platform asked us to wait (Delivery.retry_after): the failed row stays claimed until then."""
    engine = create_engine_for(migrated_url)
    try:
        uow, clock = make_uow_factory(engine), FakeClock()
        await _fill(uow, [_n("a")])
        now = clock.now()
        async with uow() as u:
            [n] = await u.outbox.claim(5, now=now, until=now + DELIVERY_LEASE)
            n.attempts, n.last_error = 1, "rate limited"
            await u.outbox.save(n, retry_at=now + timedelta(minutes=10))
            await u.commit()
        async with uow() as u:
            assert await u.outbox.claim(5, now=now + timedelta(minutes=9), until=now + timedelta(minutes=12)) == []
            [again] = await u.outbox.claim(5, now=now + timedelta(minutes=10), until=now + timedelta(minutes=12))
        assert again.attempts == 1 and again.last_error == "rate limited"
    finally:
        await engine.dispose()
