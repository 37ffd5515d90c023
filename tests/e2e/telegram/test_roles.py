"""/role, /roles and /audit through the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import re

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import MEMBER, OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person, group

ADMIN = Person(4004, "Ada", "ada_admin")
GROUP = group(-1009402, "Roles team")


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def test_an_admin_gives_a_role_by_handle_is_alerted_and_lists_roles(tmp_path):
    api = await FakeBotApi(token="7004:roles-bot-token-dddd").start()
    api.started.update({ADMIN.id, OPERATOR.id, MEMBER.id})
    tg = await start(bot_settings(api, tmp_path, admins=f"telegram:{ADMIN.id}"), poll_timeout=1.0)
    try:
        menu = await api.wait_for(lambda c: c.method == "setMyCommands")
        assert {"role", "roles", "audit"} <= {c["command"] for c in menu.params["commands"]}
        await api.ask(MEMBER, MEMBER.dm, "/start")  # @mallory has written to the bot
        refused = await api.ask(MEMBER, GROUP, "/role @olga_ops member")
        assert "Only an admin can change roles; you are a member." in refused.text
        before = len(api.calls)
        given = await api.ask(ADMIN, GROUP, "/role @mallory approver")
        assert "@mallory (telegram:2002) is now an approver (was a member)" in given.text
        alert = await api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == ADMIN.id and "Security alert" in c.text, after=before)
        assert "telegram:4004 made @mallory (telegram:2002) an approver" in alert.text
        before = len(api.calls)
        pointer = await api.ask(OPERATOR, GROUP, "/roles")  # an operator may look, privately
        assert "private chat" in pointer.text and "approver" not in pointer.text
        listing = await api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id and "Roles" in c.text, after=before)
        assert "approver: telegram:2002 (@mallory) — set by telegram:4004" in plain(listing.text)
        assert "admin: telegram:4004" in plain(listing.text) and "operator: telegram:1001 (@olga_ops)" in plain(listing.text)
        audit = await api.ask(ADMIN, ADMIN.dm, "/audit 5")
        assert "telegram:4004 (admin) /role ok" in plain(audit.text)
        assert "telegram:2002 (member) /role refused" in plain(audit.text)
    finally:
        await tg.stop()
        await api.stop()
