"""`snowrail doctor` as an operator runs it: against anvil, PostgreSQL, Redis and the fake Bot API and Discord
servers; each ✗ is caused by one wrong setting, and no line ever shows a secret."""

from __future__ import annotations

import re

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from eth_account import Account

from adapters.chain import HttpNode, deploy_stack
from adapters.db.migrate import upgrade
from tests.e2e.discord.fake_discord import FakeDiscord
from tests.e2e.telegram.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


async def doctor(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run the real command in a clean environment (no .env: cwd is a temporary directory)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "doctor", cwd=cwd, env={**base, "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


def line(out: str, name: str) -> str:
    found = [x for x in out.splitlines() if x[2:].startswith(f"{name}:")]
    assert found, f"no {name} line in:\n{out}"
    return found[0]


@pytest.fixture(scope="module")
async def servers():
    api, discord = await FakeBotApi().start(), await FakeDiscord().start()
    yield api, discord
    await api.stop()
    await discord.stop()


@pytest.fixture(scope="module")
async def migrated(new_postgres_database):
    url = new_postgres_database().replace("postgresql://", "postgresql+asyncpg://", 1)
    await upgrade(url)
    return url


@pytest.fixture
def good(anvil_stack, migrated, servers):
    """Every part set up right: the doctor passes."""
    api, discord = servers
    return {**anvil_stack.env(), "DATABASE_URL": migrated, "REDIS_URL": REDIS, **api.env(), **discord.env(),
            "OPERATORS": "telegram:1001"}


async def test_embedded_default_passes_with_no_settings(tmp_path):
    rc, out = await doctor({}, tmp_path)
    assert rc == 0, out
    assert "✗" not in out and "all checks passed" in out
    assert "in-process dev chain" in line(out, "chain")


async def test_everything_real_passes_and_no_secret_is_printed(good, anvil_stack, tmp_path):
    rc, out = await doctor(good, tmp_path)
    assert rc == 0, out
    for name in ("settings", "database", "redis", "chain", "settlement", "executor gas", "treasury", "telegram",
                 "discord", "discord intents", "roles"):
        assert line(out, name).startswith("✓"), out
    assert "latest migration" in line(out, "database")
    assert re.search(r"treasury: [0-9.]+ CRO", line(out, "treasury"))  # the session's anvil: others have paid from it
    for secret in (anvil_stack.executor_key, anvil_stack.executor_key[2:], good["TELEGRAM_BOT_TOKEN"],
                   good["DISCORD_BOT_TOKEN"]):
        assert secret not in out


@pytest.mark.parametrize("setting, value, name, says", [
    ("RATE_LIMIT_PAY", "lots", "settings", "RATE_LIMIT_PAY"),
    ("CHAIN_ID", "not-a-number", "settings", "CHAIN_ID"),
    ("REDIS_URL", "redis://:redispass@127.0.0.1:1/0", "redis", "redis://:***@127.0.0.1:1/0 is not answering"),
    ("RPC_URL", "http://127.0.0.1:1", "chain", "not answering"),
    ("CHAIN_ID", "25", "chain", "but CHAIN_ID is 25"),
    ("SETTLEMENT_CONTRACT_ADDRESS", "0x" + "42" * 20, "settlement", "no contract at"),
    ("TELEGRAM_BOT_TOKEN", "4242:wrong-token-AAAAAAAA", "telegram", "was rejected"),
    ("DISCORD_BOT_TOKEN", "not-the-discord-token", "discord", "was rejected"),
    ("OPERATORS", "", "roles", "nobody may pay"),
    ("APPROVERS", "telegram:1001", "roles", "is in OPERATORS too"),
])
async def test_each_wrong_setting_is_a_cross_naming_it(good, tmp_path, setting, value, name, says):
    rc, out = await doctor({**good, setting: value}, tmp_path)
    assert rc == 1, out
    assert line(out, name).startswith("✗") and says in line(out, name), out
    for secret in ("redispass", "wrong-token-AAAAAAAA", "not-the-discord-token"):
        assert secret not in out


async def test_database_unreachable_or_not_migrated(good, new_postgres_database, tmp_path):
    rc, out = await doctor({**good, "DATABASE_URL": "postgresql://snow:dbpass@127.0.0.1:1/x"}, tmp_path)
    assert rc == 1 and line(out, "database").startswith("✗ database: postgresql://snow:***@127.0.0.1:1/x is not reachable")
    assert "dbpass" not in out
    rc, out = await doctor({**good, "DATABASE_URL": new_postgres_database()}, tmp_path)
    assert rc == 1 and "run `snowrail migrate`" in line(out, "database"), out


async def test_a_key_the_settlement_does_not_trust(good, anvil_stack, tmp_path):
    rc, out = await doctor({**good, "PRIVATE_KEY": anvil_stack.anvil.keys[3]}, tmp_path)
    assert rc == 1
    assert "trusts executor" in line(out, "settlement") and anvil_stack.anvil.keys[3] not in out


async def test_an_executor_without_gas_and_an_empty_treasury(good, anvil_stack, tmp_path):
    broke = Account.create()
    node = HttpNode(anvil_stack.url)
    try:
        bare = await deploy_stack(node, anvil_stack.owner_key, executor=broke.address)
    finally:
        await node.close()
    env = {**good, "PRIVATE_KEY": "0x" + broke.key.hex().removeprefix("0x"), "SETTLEMENT_CONTRACT_ADDRESS": bare.settlement}
    rc, out = await doctor(env, tmp_path)
    assert rc == 1
    assert line(out, "settlement").startswith("✓")
    assert "holds no CRO" in line(out, "executor gas") and line(out, "executor gas").startswith("✗")
    assert "is empty" in line(out, "treasury") and line(out, "treasury").startswith("✗")


async def test_mixer_pool_not_allow_listed_and_relayer_without_gas(good, tmp_path):
    pool, relayer = "0x" + "77" * 20, Account.create()
    rc, out = await doctor({**good, "MIXER_CONTRACT_ADDRESS": pool}, tmp_path)
    assert rc == 1 and "not allow-listed" in line(out, "mixer") and "MIXER_RELAYER_KEY" in line(out, "relayer")
    rc, out = await doctor({**good, "MIXER_CONTRACT_ADDRESS": pool, "MIXER_RELAYER_KEY": relayer.key.hex()}, tmp_path)
    assert rc == 1 and "holds no CRO" in line(out, "relayer") and relayer.key.hex().removeprefix("0x") not in out


async def test_discord_without_the_message_content_intent_is_a_warning(good, servers, tmp_path):
    _, discord = servers
    discord.privileged = False
    try:
        rc, out = await doctor(good, tmp_path)
    finally:
        discord.privileged = True
    assert rc == 0, out
    assert line(out, "discord intents").startswith("! discord intents: the Message Content intent is off")


async def test_a_keystore_key_is_used_and_a_wrong_password_is_a_cross(good, anvil_stack, tmp_path):
    # The stack's executor key in a keystore, in the format `snowrail keys new` writes.
    path = tmp_path / "executor.json"
    (tmp_path / "pw").write_text("correct horse\n")
    (tmp_path / "bad").write_text("wrong horse\n")
    path.write_text(json.dumps(Account.encrypt(anvil_stack.executor_key, "correct horse")))
    env = {k: v for k, v in good.items() if k != "PRIVATE_KEY"}
    rc, out = await doctor({**env, "PRIVATE_KEY_FILE": str(path), "PRIVATE_KEY_PASSWORD_FILE": str(tmp_path / "pw")}, tmp_path)
    assert rc == 0, out
    assert "keystore PRIVATE_KEY_FILE" in line(out, "settings") and line(out, "settlement").startswith("✓")
    rc, out = await doctor({**env, "PRIVATE_KEY_FILE": str(path), "PRIVATE_KEY_PASSWORD_FILE": str(tmp_path / "bad")}, tmp_path)
    assert rc == 1 and "the password does not unlock" in line(out, "settings")
