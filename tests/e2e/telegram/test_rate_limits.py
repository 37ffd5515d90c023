"""A rate-limited command through the real PTB Application and a fake Bot API: the refusal reaches the chat."""

from __future__ import annotations

import re

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


@pytest.fixture
async def own_api():
    server = await FakeBotApi(token="778:rate-limit-fake-token").start()
    server.started.add(OPERATOR.id)
    yield server
    await server.stop()


async def test_the_third_pay_in_a_minute_is_refused_in_the_chat_and_pays_nothing(own_api, tmp_path):
    tg = await start(bot_settings(own_api, tmp_path, rate_limit_pay="2/1m"), poll_timeout=1.0)
    try:
        for _ in range(2):
            assert "confirmed" in (await own_api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.5")).text
        refused = await own_api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.5")
        assert re.search(r"Too many /pay commands: 2 per minute\. Try again in \d+ s\.", refused.text), refused.text
        history = await own_api.ask(OPERATOR, OPERATOR.dm, "/history 10")  # other commands have their own rate
        assert history.text.count("0.5 CRO") == 2, history.text
    finally:
        await tg.stop()
