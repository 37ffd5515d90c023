"""Fixtures: a fake Discord (REST + gateway) and the real SnowRail Discord client connected to it."""

from __future__ import annotations

import pytest

from bot.discord_mode import start
from bot.settings import Settings
from tests.e2e.discord.fake_discord import FakeDiscord

OPERATOR = (700000000000000001, "olga")  # in OPERATORS
TREASURER = (700000000000000002, "tess")  # holds the operator role
ALICE = (700000000000000003, "alice")  # a member
MALLORY = (700000000000000004, "mallory")  # a stranger to everyone's payments
ADMIN = (700000000000000005, "ada")  # in ADMINS (tests/e2e/discord/test_roles.py)


def bot_settings(fake: FakeDiscord, data_dir, **extra) -> Settings:
    values = dict(
        _env_file=None,
        data_dir=data_dir,
        database_url=None,
        redis_url=None,
        rpc_url=None,
        discord_bot_token=fake.token,
        discord_api_base_url=fake.api_url,
        discord_gateway_url=fake.gateway_url,
        discord_guild_ids=str(fake.guild_id),
        discord_operator_role=str(fake.operator_role_id),
        operators=f"discord:{OPERATOR[0]}",
        admins=f"discord:{ADMIN[0]}",
        pay_confirm_above="CRO=100",
        # One bot serves the whole session's scripted conversations: far past a person's rate, so off unless asked.
        rate_limit_pay="off", rate_limit_bulk_upload="off", rate_limit_default="off",
    )
    values.update(extra)
    return Settings(**values)


@pytest.fixture(scope="session")
async def fake():
    server = await FakeDiscord().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def discord_bot(fake, tmp_path_factory):
    bot = await start(bot_settings(fake, tmp_path_factory.mktemp("dc")))
    await fake.wait_for(lambda e: e.kind == "sync", timeout=30)
    yield bot
    await bot.stop()
