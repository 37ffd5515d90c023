"""TelegramNotifier against the local fake Bot API: token only, Forbidden, retry_after, HTML."""

from __future__ import annotations

import time

import pytest

from adapters.telegram import TelegramNotifier
from core.replies import Button, Reply, code
from tests.e2e.telegram.fake_bot_api import Failure, FakeBotApi

# PTB reads RetryAfter.retry_after itself, which warns about the attribute's future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


@pytest.fixture
async def api():
    server = await FakeBotApi().start()
    server.started.update({11, 12})
    yield server
    await server.stop()


async def test_sends_html_with_buttons_and_marks_blocked_users_undeliverable(api):
    async with TelegramNotifier(api.token, base_url=api.base_url) as notifier:
        ok = await notifier.send("telegram:11", Reply.of(("Paid <you> ", code("0x" + "ab" * 32)),
                                                       buttons=(Button("Details", "/status pay-abcdefgh"),)))
        blocked = await notifier.send("telegram:99", Reply.of("hello"))
        wrong = await notifier.send("discord:11", Reply.of("hello"))
    assert ok.ok
    call = api.sent_to(11)[0]
    assert call.params["parse_mode"] == "HTML" and "Paid &lt;you&gt; <code>0x" in call.text
    assert call.buttons()[0]["callback_data"].endswith("|/status pay-abcdefgh")
    assert blocked.undeliverable and not blocked.ok
    assert wrong.undeliverable


async def test_honours_retry_after_then_gives_up_on_long_waits(api):
    api.failures.append(Failure("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1))
    async with TelegramNotifier(api.token, base_url=api.base_url) as notifier:
        t0 = time.perf_counter()
        first = await notifier.send("telegram:11", Reply.of("one"))
        waited = time.perf_counter() - t0
        api.failures.append(Failure("sendMessage", 429, "Too Many Requests: retry after 120", retry_after=120))
        second = await notifier.send("telegram:12", Reply.of("two"))
    assert first.ok and waited >= 1.0
    assert not second.ok and not second.undeliverable and second.retry_after == 120


async def test_one_message_a_second_per_chat(api):
    async with TelegramNotifier(api.token, base_url=api.base_url) as notifier:
        for i in range(3):
            assert (await notifier.send("telegram:11", Reply.of(f"n{i}"))).ok
    times = [c.at for c in api.sent_to(11)]
    assert times[2] - times[0] >= 1.9


async def test_progress_in_a_slot_edits_one_message(api):
    slots: dict[str, int] = {}
    async with TelegramNotifier(api.token, base_url=api.base_url, slots=slots) as notifier:
        for done in (1, 2, 3):
            assert (await notifier.send_in_place("telegram:11", Reply.of(f"{done}/3 paid"), "bulk-x:progress")).ok
    assert api.chat_shows(11) == ["3/3 paid"]  # one message, showing the latest progress
    assert set(slots.values()) == {api.sent_to(11)[0].result["message_id"]}
    async with TelegramNotifier(api.token, base_url=api.base_url, slots=slots) as another_process:
        await another_process.send_in_place("telegram:11", Reply.of("done"), "bulk-x:progress")
    assert api.chat_shows(11) == ["done"]  # the slot store is what lets a second worker edit the same message
