"""The REST-only DM sender against a local fake Discord: rate limits, closed DMs, no cold DMs, no token leaks."""

import time

import discord
import pytest

from adapters.discord import DiscordDMNotifier, point_at
from core.replies import Button, Reply
from tests.e2e.discord.fake_discord import FakeDiscord

KNOWN, CLOSED, STRANGER = "discord:111111111111111111", "discord:222222222222222222", "discord:333333333333333333"


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

    sender = DiscordDMNotifier(fake.token, may_dm=may_dm)
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
    sender = DiscordDMNotifier("wrong-token")
    try:
        result = await sender.send(KNOWN, Reply.of("x"))
    finally:
        await sender.close()
    assert not result.ok and "wrong-token" not in (result.error or "") and "wrong-token" not in repr(sender)
