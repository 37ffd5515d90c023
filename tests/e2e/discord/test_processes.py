"""Whole processes: `snowrail run discord` from a cold start, and DMs sent by a separate RQ worker."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from bot.discord_mode import start
from tests.e2e.discord.conftest import OPERATOR, TREASURER, bot_settings
from tests.e2e.discord.fake_discord import FakeDiscord

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
REDIS = "redis://127.0.0.1:6379/14"  # a database of its own: other suites use others
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = re.compile(r"0x[0-9a-f]{64}")


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", **extra}


@pytest.fixture
async def own_fake():
    """A fake of the test's own. point_at() is process-wide: the session's bot gets its fake back afterwards."""
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    server = await FakeDiscord().start()
    yield server
    await server.stop()
    discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


async def test_cold_start_from_an_empty_directory_syncs_and_pays(own_fake, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    env = bare_env(tmp_path, **own_fake.env(), OPERATORS=f"discord:{OPERATOR[0]}")
    bot = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "discord", cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        sync = await own_fake.wait_for(lambda e: e.kind == "sync", timeout=90)
        assert sync.payload["guild"] == own_fake.guild_id and "pay" in sync.payload["names"]
        assert sync.at - own_fake.ready_at < 30
        help_ = await own_fake.answer(await own_fake.send(own_fake.slash("help", {}, OPERATOR)))
        assert "/bulk" in help_.content
        paid = await own_fake.answer(
            await own_fake.send(own_fake.slash("pay", {"recipient": ADDRESS, "amount": "0.5", "token": "CRO"}, OPERATOR)), 60
        )
        assert TX.search(paid.content), paid.content
    finally:
        bot.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(bot.communicate(), 60)
    logs = (out + err).decode()
    assert bot.returncode == 0, logs[-3000:]
    assert own_fake.token not in logs and "Traceback" not in logs
    assert sorted(p.name for p in work.iterdir()) == [".snowrail"]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="needs Redis at 127.0.0.1:6379")
async def test_dms_come_from_a_worker_process_through_429s_and_closed_dms(own_fake, tmp_path, anvil_stack):
    from redis import Redis
    from rq import Queue

    Queue("snowrail", connection=Redis.from_url(REDIS)).empty()
    db_file = tmp_path / "shared.sqlite3"
    database = f"sqlite+aiosqlite:///{db_file}"
    # A worker shares the bot's chain and database, so neither may be the bot's embedded one.
    chain = anvil_stack.env()
    bot = await start(bot_settings(own_fake, tmp_path / "data", redis_url=REDIS, database_url=database,
                                   **{k.lower(): v for k, v in chain.items()}))
    try:
        paid = await own_fake.answer(await own_fake.send(own_fake.slash("pay", {"recipient": ADDRESS, "amount": "0.25"}, OPERATOR)))
        tx = TX.search(paid.content).group(0)
        closed = await own_fake.answer(
            await own_fake.send(own_fake.slash("pay", {"recipient": ADDRESS, "amount": "0.5"}, TREASURER, operator=True))
        )
        assert TX.search(closed.content)
    finally:
        await bot.stop()
    # Checked once the bot has stopped (its last deliveries drained), not after a guessed pause.
    assert not [e for e in own_fake.events if e.kind == "dm"], "the bot process sends no DM when workers do"
    own_fake.closed_dms.add(TREASURER[0])
    own_fake.limit_next("dm", 0.5)
    env = bare_env(tmp_path, **own_fake.env(), REDIS_URL=REDIS, DATABASE_URL=database, **chain)
    worker = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "worker", "--burst", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(worker.communicate(), 180)
    assert worker.returncode == 0, err.decode()[-3000:]
    dm = await own_fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == OPERATOR[0])
    limited = await own_fake.wait_for(lambda e: e.kind == "limited" and e.payload["kind"] == "dm")
    assert tx in dm.content and dm.at - limited.at >= 0.45  # retried after retry_after, not dropped
    assert dm.payload["allowed_mentions"] == {"parse": []}
    assert not [e for e in own_fake.events if e.kind == "dm" and e.payload["user_id"] == TREASURER[0]]
    with sqlite3.connect(db_file) as db:
        statuses = dict(db.execute("select user_ref, status from notifications").fetchall())
    assert statuses[f"discord:{OPERATOR[0]}"].lower() == "sent"
    assert statuses[f"discord:{TREASURER[0]}"].lower() == "undeliverable"  # closed DMs: not retried forever
    assert own_fake.token not in (out + err).decode()


async def test_a_rejected_token_stops_with_one_line_that_does_not_quote_it(own_fake, tmp_path):
    env = bare_env(tmp_path, **{**own_fake.env(), "DISCORD_BOT_TOKEN": "not-the-token-123"})
    bot = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "discord", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(bot.communicate(), 120)
    assert bot.returncode == 2, err.decode()
    assert "DISCORD_BOT_TOKEN was rejected" in err.decode()
    assert "not-the-token-123" not in (out + err).decode() and "Traceback" not in err.decode()


async def test_without_guild_ids_commands_sync_globally(own_fake, tmp_path):
    bot = await start(bot_settings(own_fake, tmp_path, discord_guild_ids="", discord_operator_role=""))
    try:
        sync = await own_fake.wait_for(lambda e: e.kind == "sync", timeout=30)
        assert sync.payload["guild"] is None and "pay" in sync.payload["names"]
        answer = await own_fake.answer(await own_fake.send(own_fake.slash("help", {}, OPERATOR, dm=True)))
        assert "/pay" in answer.content
    finally:
        await bot.stop()


async def test_after_the_gateway_drops_the_bot_resumes_and_answers(own_fake, tmp_path):
    bot = await start(bot_settings(own_fake, tmp_path))
    try:
        await own_fake.wait_for(lambda e: e.kind == "sync", timeout=30)
        for ws in list(own_fake.sockets):
            await ws.close(code=4000, message=b"try again")
        resumed = await own_fake.wait_for(lambda e: e.kind == "resumed", timeout=20)
        assert resumed.payload["session_id"] == "fake-session"
        answer = await own_fake.answer(await own_fake.send(own_fake.slash("help", {}, OPERATOR)), 20)
        assert "/pay" in answer.content
    finally:
        await bot.stop()


async def test_without_the_message_content_intent_the_bot_still_starts(own_fake, tmp_path, caplog):
    from tests.e2e.discord.fake_discord import MESSAGE_CONTENT

    own_fake.privileged = False  # the portal has not granted it: IDENTIFY asking for it is closed with 4014
    bot = await start(bot_settings(own_fake, tmp_path))
    try:
        first, second = own_fake.intents
        assert first & MESSAGE_CONTENT and not second & MESSAGE_CONTENT
        # The operator is warned, and told which setting of the developer portal it is.
        assert any(r.levelno == logging.WARNING and "Message Content" in r.getMessage() for r in caplog.records)
        help_ = await own_fake.answer(await own_fake.send(own_fake.slash("help", {}, OPERATOR)))
        assert "/pay" in help_.content
    finally:
        await bot.stop()
