"""The REST-only DM sender against a local fake Discord: rate limits, closed DMs, no cold DMs, no token leaks."""

import time

import discord
import pytest

from adapters.discord import DiscordNotifier, point_at
from core.replies import Button, Reply
from tests.e2e.discord.fake_discord import FakeDiscord

KNOWN, CLOSED, STRANGER = "discord:111111111111111111", "discord:222222222222222222", "discord:333333333333333333"
KNOWN_ID = int(KNOWN.split(":")[1])


@pytest.fixture
async def fake():
    saved = discord.http.Route.BASE
    server = await FakeDiscord().start()
    point_at(server.api_url, None)
    server.closed_dms.add(int(CLOSED.split(":")[1]))
    yield server
    await server.stop()
    discord.http.Route.BASE = saved


@pytest.fixture
async def notifier(fake):
    async def may_dm(ref: str) -> bool:
        return ref != STRANGER

    sender = DiscordNotifier(fake.token, may_dm=may_dm)
    yield sender
    await sender.close()


async def test_a_dm_keeps_link_buttons_and_never_pings(fake, notifier):
    reply = Reply.of("Paid @everyone", buttons=(Button("Confirm", "/confirm pay-x"), Button("Explorer", url="https://x.test/tx/1")))
    result = await notifier.send(KNOWN, reply)
    assert result.ok
    (dm,) = [e for e in fake.events if e.kind == "dm"]
    assert "@everyone" not in dm.content and dm.payload["allowed_mentions"] == {"parse": []}
    assert dm.urls == ["https://x.test/tx/1"] and dm.custom_ids == []


async def test_people_who_never_used_the_bot_get_no_dm(fake, notifier):
    result = await notifier.send(STRANGER, Reply.of("hello"))
    assert result.undeliverable and not fake.dm_users
    assert (await notifier.send("telegram:5", Reply.of("x"))).undeliverable


async def test_closed_dms_are_undeliverable(fake, notifier):
    result = await notifier.send(CLOSED, Reply.of("hello"))
    assert not result.ok and result.undeliverable and "50007" in (result.error or "")


async def test_a_short_429_is_waited_out_and_a_long_one_handed_back(fake, notifier):
    fake.limit_next("dm", 0.3)
    started = time.perf_counter()
    assert (await notifier.send(KNOWN, Reply.of("one"))).ok
    assert time.perf_counter() - started >= 0.3
    fake.limit_next("dm", 45.0)
    started = time.perf_counter()
    result = await notifier.send(KNOWN, Reply.of("two"))
    assert not result.ok and not result.undeliverable and result.retry_after == pytest.approx(45.0)
    assert time.perf_counter() - started < 5


async def test_a_429_without_via_is_still_waited_out(fake, notifier):
    fake.limit_next("dm", 0.3, via=False)
    started = time.perf_counter()
    assert (await notifier.send(KNOWN, Reply.of("three"))).ok
    assert time.perf_counter() - started >= 0.3


async def test_the_token_stays_out_of_repr_and_errors(fake):
    sender = DiscordNotifier("wrong-token")
    try:
        result = await sender.send(KNOWN, Reply.of("x"))
    finally:
        await sender.close()
    assert not result.ok and "wrong-token" not in (result.error or "") and "wrong-token" not in repr(sender)


async def test_progress_in_a_slot_is_one_dm_edited_in_place(fake, notifier):
    for done in (1, 2, 3):
        assert (await notifier.send_in_place(KNOWN, Reply.of(f"{done}/3 paid @everyone"), "bulk-x:progress")).ok
    assert fake.dm_shows(KNOWN_ID) == ["3/3 paid @\u200beveryone"]  # one message, showing the latest progress
    edits = [e for e in fake.events if e.kind == "dm_edit"]
    assert edits and all(e.payload["allowed_mentions"] == {"parse": []} for e in edits)  # an edit never pings either
    # Another worker process, sharing the slot store (Redis in production), edits the same message.
    other = DiscordNotifier(fake.token, slots=notifier.slots)
    try:
        assert (await other.send_in_place(KNOWN, Reply.of("done"), "bulk-x:progress")).ok
    finally:
        await other.close()
    assert fake.dm_shows(KNOWN_ID) == ["done"]


async def test_a_progress_message_that_is_gone_is_sent_again(fake, notifier):
    assert (await notifier.send_in_place(KNOWN, Reply.of("1/2 paid"), "bulk-y:progress")).ok
    first = notifier.slots["bulk-y:progress"]
    del fake.messages[first]
    assert (await notifier.send_in_place(KNOWN, Reply.of("2/2 paid"), "bulk-y:progress")).ok
    assert fake.dm_shows(KNOWN_ID) == ["2/2 paid"] and notifier.slots["bulk-y:progress"] != first
    closed = await notifier.send_in_place(CLOSED, Reply.of("1/2 paid"), "bulk-z:progress")
    assert closed.undeliverable and "bulk-z:progress" not in notifier.slots


async def test_a_batchs_progress_through_the_engine_is_one_dm_plus_edits(fake, notifier):
    from datetime import UTC, datetime

    from core.engine import Engine
    from core.model import Notification, NotificationType
    from core.replies import dumps
    from core.services import Policy
    from tests.fakes import FakeChain, FakeClock, FakeDatabase

    db = FakeDatabase()
    engine = Engine(chain=FakeChain(), uow=db, clock=FakeClock(), policy=Policy())
    at = datetime(2026, 11, 26, tzinfo=UTC)
    async with db() as uow:
        for seq in (1, 2, 3, 4):
            body = dumps(Reply.of(f"bulk-abcd1234 {'█' * seq}{'░' * (4 - seq)} {seq * 25}%"))
            await uow.outbox.add(Notification(f"bulk-abcd1234:progress:{seq}", KNOWN, NotificationType.BATCH_PROGRESS, body, at))
        await uow.outbox.add(Notification("bulk-abcd1234:done", KNOWN, NotificationType.BATCH_COMPLETE, dumps(Reply.of("bulk-abcd1234 finished")), at))
        await uow.commit()
    assert await engine.deliver_notifications(notifier, platform="discord") == 5
    # One progress message, edited in place up to 100%, then the summary as a message of its own.
    assert fake.dm_shows(KNOWN_ID) == ["bulk-abcd1234 ████ 100%", "bulk-abcd1234 finished"]


def test_workers_share_progress_slots_through_redis_when_there_is_one():
    from bot.notifiers import RedisSlots, notifiers_for
    from bot.settings import Settings

    def discord_notifier(**extra):
        settings = Settings(_env_file=None, discord_bot_token="t", discord_api_base_url=discord.http.Route.BASE, **extra)
        return notifiers_for(settings)["discord"]

    saved = discord.http.Route.BASE
    try:
        assert isinstance(discord_notifier(redis_url="redis://127.0.0.1:6379/14").slots, RedisSlots)
        assert discord_notifier(redis_url=None).slots == {}
    finally:
        discord.http.Route.BASE = saved
