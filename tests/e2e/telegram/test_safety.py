"""Issue 9's Telegram findings, each through the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import logging
import re

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import MEMBER, OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi, group

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TX = re.compile(r"0x[0-9a-f]{64}")
PAYMENT_ID = re.compile(r"\bpay-[a-z0-9]{8}\b")
GROUP = group(-1009301, "Treasury team")
REDIS = "redis://127.0.0.1:6379/13"  # the database test_processes uses: other suites use the default one
# PTB's own rate limiter reads RetryAfter.retry_after, which warns about its future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def fake_api(token: str) -> FakeBotApi:
    server = await FakeBotApi(token=token).start()
    server.started.add(OPERATOR.id)
    return server


async def test_low_telegram_keys_include_bot_id(tmp_path, anvil_stack):
    """Two bots on one database and one chain: the operator's first message to each has the same chat id (their
    user id) and message id (1). Each is a payment of its own; neither is taken for a repeat of the other."""
    apis = [await fake_api("7001:first-bot-token-aaaa"), await fake_api("7002:second-bot-token-bbbb")]
    database = f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite3'}"
    chain = {k.lower(): v for k, v in anvil_stack.env().items()}
    bots = []
    try:
        for i, api in enumerate(apis):
            bots.append(await start(bot_settings(api, tmp_path / f"bot{i}", database_url=database, **chain), poll_timeout=1.0))
        updates = [await api.say(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.01") for api in apis]
        assert updates[0]["message"]["message_id"] == updates[1]["message"]["message_id"]  # the same (chat, message)
        replies = [await api.reply_to(u) for api, u in zip(apis, updates)]
        for reply in replies:
            assert "Already handled" not in reply.text, reply.text
            assert "confirmed" in reply.text, reply.text
        assert TX.search(replies[0].text).group(0) != TX.search(replies[1].text).group(0)
    finally:
        for tg in bots:
            await tg.stop()
        for api in apis:
            await api.stop()


async def test_low_edited_message_with_secret_is_deleted(api, telegram, caplog):
    caplog.set_level(logging.INFO)
    key = "9f" * 32
    first = await api.say(MEMBER, GROUP, "one moment, pasting it")
    mid = first["message"]["message_id"]
    before = len(api.calls)
    await api.edit(MEMBER, first, f"my key {key}")
    deleted = await api.wait_for(lambda c: c.method == "deleteMessage" and c.params["message_id"] == mid, after=before)
    assert deleted.chat_id == GROUP["id"]
    warning = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and "private key" in c.text, after=before)
    assert "edited" in warning.text and "I deleted it" in warning.text
    assert key not in warning.text  # never repeated
    assert not [c for c in api.sent_to(GROUP["id"]) if c.wall >= deleted.wall]  # nothing about it in the group
    assert key not in caplog.text  # never logged

    # Where the bot may not delete, the author is still warned, and nothing is said in the group.
    locked = group(-1009302, "No delete rights")
    api.no_delete.add(locked["id"])
    note = "snowrail-cro-0.1-31337-0x" + "ab" * 31
    second = await api.say(MEMBER, locked, "typo, fixing")
    before = len(api.calls)
    await api.edit(MEMBER, second, f"/withdraw {note} {RECIPIENT}")
    warning = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and "mixer note" in c.text, after=before)
    assert "could not delete" in warning.text and note not in warning.text
    assert not api.sent_to(locked["id"])
    assert note not in caplog.text


async def test_low_history_status_and_operator_wallet_in_groups_are_answered_privately(api, telegram):
    paid = await api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.05")
    tx, payment = TX.search(paid.text).group(0), PAYMENT_ID.search(paid.text).group(0)
    for text, private in [("/history", tx), (f"/status {payment}", tx), ("/wallet", "Treasury")]:
        before = len(api.calls)
        pointer = await api.ask(OPERATOR, GROUP, text)
        assert "private chat" in pointer.text, (text, pointer.text)
        assert "\n" not in pointer.text.strip() and private not in pointer.text and not TX.search(pointer.text)
        dm = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id and private in c.text, after=before)
        assert dm.at <= pointer.at  # the answer is in the DM before the group is told it is there


async def test_bug_deposit_is_in_the_telegram_command_menu_once_it_works(api, telegram):
    menu = await api.wait_for(lambda c: c.method == "setMyCommands")
    names = {c["command"] for c in menu.params["commands"]}
    assert {"pay", "bulk", "help", "history", "deposit", "release"} <= names  # intents work (issue 13)
    answer = await api.ask(OPERATOR, GROUP, "/deposit pay-abcdefgh")  # answered in groups too
    assert answer.text.strip()


async def test_bug_telegram_redis_without_database_delivers_notifications(tmp_path):
    """REDIS_URL set, DATABASE_URL not: no worker can share the bot's database, so jobs run inline, and the bot
    itself must deliver the notification a payment makes (the DM that is not a reply to the command)."""
    api = await fake_api("7003:redis-no-database-cccc")
    tg = await start(bot_settings(api, tmp_path, redis_url=REDIS), poll_timeout=1.0)
    try:
        paid = await api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.5")
        tx = TX.search(paid.text).group(0)
        dm = await api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id and not c.params.get("reply_parameters")
            and tx in c.text,
            timeout=20,
        )
        assert dm.params["parse_mode"] == "HTML"
    finally:
        await tg.stop()
        await api.stop()
