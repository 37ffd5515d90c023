"""SnowRail on Telegram as separate processes: cold start, webhook mode, and DMs sent by an RQ worker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi, post_webhook

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TX = re.compile(r"0x[0-9a-f]{64}")
REDIS = "redis://127.0.0.1:6379/13"  # a database of its own: other suites use the default one
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


@pytest.fixture
async def own_api():
    server = await FakeBotApi(token="777:another-fake-token-xyz").start()
    server.started.add(OPERATOR.id)
    yield server
    await server.stop()


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What a newcomer's shell has: PATH and nothing of ours; no .env file anywhere near."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_cold_start_polls_within_30s_and_pays(own_api, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = bare_env(home, **own_api.env(), OPERATORS=f"telegram:{OPERATOR.id}", LOG_LEVEL="DEBUG")
    log_out, log_err = (tmp_path / "stdout").open("w+"), (tmp_path / "stderr").open("w+")  # files: a full pipe would stall the bot
    t0 = time.monotonic()
    proc = subprocess.Popen([SNOWRAIL, "run", "telegram"], cwd=work, env=env, stdout=log_out, stderr=log_err, text=True)
    try:
        while own_api.polls == 0:
            assert proc.poll() is None, (tmp_path / "stderr").read_text()[-2000:]
            assert time.monotonic() - t0 < 30, "not polling after 30 s"
            await asyncio.sleep(0.1)
        polling_after = time.monotonic() - t0
        paid = await own_api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.5 CRO")
        assert TX.search(paid.text) and "confirmed" in paid.text
        intent = await own_api.ask(type(OPERATOR)(9, "Eve"), {"id": 9, "type": "private", "first_name": "Eve"}, f"/pay {RECIPIENT} 1")
        assert "Intent int-" in intent.text and "confirmed" not in intent.text  # a member funds it; the treasury pays nothing
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)  # the fake server shares this loop: keep it answering
    out, err = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert proc.returncode == 0, err[-2000:]
    assert own_api.token not in out + err and own_api.token.split(":")[1] not in out + err
    assert "Traceback" not in err
    assert "getUpdates" in err  # DEBUG logging was on, and the URLs in it were redacted
    print(f"cold start: polling after {polling_after:.1f}s")


async def test_webhook_mode_needs_the_secret_header(own_api, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook/tg"
    settings = bot_settings(own_api, tmp_path, telegram_webhook_url=url, telegram_webhook_listen="127.0.0.1",
                            telegram_webhook_port=port, telegram_webhook_secret="s3cret-token_1")
    tg = await start(settings)
    try:
        assert own_api.webhook == {"url": url, "secret_token": "s3cret-token_1"}
        update = {"update_id": 1, **own_api.message_update(OPERATOR, OPERATOR.dm, "/help")}
        assert await post_webhook(url, update, None) == 403
        assert await post_webhook(url, {**update, "update_id": 2}, "wrong") == 403
        assert not own_api.sent_to(OPERATOR.id)
        assert await post_webhook(url, {**update, "update_id": 3}, "s3cret-token_1") == 200
        reply = await own_api.reply_to(update)
        assert "/pay" in reply.text
        assert own_api.polls == 0
    finally:
        await tg.stop()


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.redis
@pytest.mark.skipif(not _redis_up(), reason="needs Redis at 127.0.0.1:6379")
async def test_payment_notification_is_a_dm_sent_by_a_separate_worker(own_api, tmp_path, anvil_stack):
    from redis import Redis
    from rq import Queue

    Queue("snowrail", connection=Redis.from_url(REDIS)).empty()
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    # A worker shares the bot's chain and database, so neither may be the bot's embedded one.
    chain = anvil_stack.env()
    tg = await start(bot_settings(own_api, tmp_path, redis_url=REDIS, database_url=database,
                                  **{k.lower(): v for k, v in chain.items()}))
    try:
        paid = await own_api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.25")
        tx = TX.search(paid.text).group(0)
        # The event that settles it: the bot has handed the notification to the workers' queue.
        queued, end = Queue("snowrail", connection=Redis.from_url(REDIS)), time.monotonic() + 30
        while queued.count == 0:
            assert time.monotonic() < end, "the bot never queued the notification for a worker"
            await asyncio.sleep(0.05)
        assert own_api.sent_to(OPERATOR.id) == [paid], "the bot process itself sends no notification"
    finally:
        await tg.stop()
    env = bare_env(tmp_path, **own_api.env(), REDIS_URL=REDIS, DATABASE_URL=database, **chain)
    worker = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "worker", "--burst", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(worker.communicate(), 120)
    assert worker.returncode == 0, err.decode()[-2000:]
    dm = await own_api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id and not c.params.get("reply_parameters"))
    assert tx in dm.text and dm.params["parse_mode"] == "HTML"
    assert own_api.token not in (out + err).decode()


async def test_a_rejected_token_is_one_line_without_the_token(own_api, tmp_path):
    env = bare_env(tmp_path, **{**own_api.env(), "TELEGRAM_BOT_TOKEN": "777:not-the-right-one"}, LOG_LEVEL="DEBUG")
    proc = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "telegram", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = (out + err).decode()
    assert proc.returncode == 2, text[-2000:]
    assert "TELEGRAM_BOT_TOKEN was rejected" in text.splitlines()[-1]
    assert "not-the-right-one" not in text
