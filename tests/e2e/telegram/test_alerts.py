"""Security alerts through the real python-telegram-bot against the fake Bot API: a key pasted in a group is deleted,
and every admin gets a DM that says who posted it and where, never the key."""

from __future__ import annotations

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import MEMBER, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person, group

ADA = Person(4101, "Ada", "ada_admin")
BEN = Person(4102, "Ben", "ben_admin")
GROUP = group(-1009411, "Payroll team")
KEY = "9f" * 32

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def test_a_key_pasted_in_a_group_alerts_every_admin_by_dm(tmp_path):
    api = await FakeBotApi(token="7011:alerts-bot-token-eeee").start()
    api.started.update({ADA.id, BEN.id, MEMBER.id})
    tg = await start(bot_settings(api, tmp_path, admins=f"telegram:{ADA.id},telegram:{BEN.id}"), poll_timeout=1.0)
    try:
        await api.wait_for(lambda c: c.method == "setMyCommands")
        update = await api.say(MEMBER, GROUP, "my private key " + KEY)
        mid = update["message"]["message_id"]
        await api.wait_for(lambda c: c.method == "deleteMessage" and c.params["message_id"] == mid)
        for admin in (ADA, BEN):
            alert = await api.wait_for(
                lambda c: c.method == "sendMessage" and c.chat_id == admin.id and "Security alert" in c.text)  # noqa: B023
            assert "a pasted private key was seen" in alert.text
            assert f"(telegram:{MEMBER.id}) posted what looks like a private key in the group “Payroll team”" in alert.text
            assert "I deleted the message" in alert.text and KEY not in alert.text and KEY[:16] not in alert.text
        assert not [c for c in api.calls if c.method == "sendMessage" and KEY in str(c.params)]  # nobody sees the key again
        assert len([c for c in api.calls if c.method == "sendMessage" and "Security alert" in c.text]) == 2
    finally:
        await tg.stop()
        await api.stop()
