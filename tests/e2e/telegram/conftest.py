"""Fixtures: a fake Bot API server and the real SnowRail Telegram bot (PTB Application) polling it."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.telegram_mode import start
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person

OPERATOR = Person(1001, "Olga", "olga_ops")
MEMBER = Person(2002, "Mallory <b>", "mallory")
STRANGER = Person(3003, "Sam", None)


def bot_settings(api: FakeBotApi, data_dir, **extra) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        telegram_bot_token=api.token,
        telegram_api_base_url=api.base_url,
        telegram_file_base_url=api.file_url,
        operators=f"telegram:{OPERATOR.id}",
        pay_confirm_above="CRO=100",
        # One bot serves the whole session's scripted conversations: far past a person's rate, so off unless a
        # test asks (tests/e2e/telegram/test_rate_limits.py).
        **{"rate_limit_pay": "off", "rate_limit_bulk_upload": "off", "rate_limit_default": "off", **extra},
    )


@pytest.fixture(scope="session")
async def api():
    server = await FakeBotApi().start()
    server.started.update({OPERATOR.id, MEMBER.id})
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def telegram(api, tmp_path_factory):
    tg = await start(bot_settings(api, tmp_path_factory.mktemp("tg")), poll_timeout=1.0)
    yield tg
    await tg.stop()
