"""A plain-language DM through the real PTB library: the preview with its slash command, Confirm, the payment."""

from __future__ import annotations

import re

import pytest

from tests.e2e.telegram.conftest import OPERATOR

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TX = re.compile(r"0x[0-9a-f]{64}")
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


async def test_plain_language_dm_previews_then_confirm_pays(api, telegram):
    preview = await api.ask(OPERATOR, OPERATOR.dm, f"please sned 1.75 cro to {RECIPIENT}")
    assert f"<code>/pay {RECIPIENT} 1.75 CRO</code>" in preview.text
    assert [b["text"] for b in preview.buttons()] == ["Confirm", "Cancel"]
    assert not TX.search(preview.text)  # nothing is paid from the sentence itself

    before = len(api.calls)
    await api.press(OPERATOR, preview, "Confirm")
    paid = await api.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == preview.result["message_id"], after=before)
    assert "confirmed" in paid.text and "1.75 CRO" in paid.text
    tx = TX.search(paid.text).group(0)
    history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
    assert tx in history.text


async def test_plain_language_cancel_and_questions(api, telegram):
    preview = await api.ask(OPERATOR, OPERATOR.dm, f"give {RECIPIENT} 2 cro")
    before = len(api.calls)
    await api.press(OPERATOR, preview, "Cancel")
    cancelled = await api.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == preview.result["message_id"], after=before)
    assert "nothing was done" in cancelled.text

    ask = await api.ask(OPERATOR, OPERATOR.dm, f"send 5 dollars to {RECIPIENT}")
    assert "dollars" in ask.text and "CRO" in ask.text and not ask.buttons()
    later = await api.ask(OPERATOR, OPERATOR.dm, f"pay {RECIPIENT} 2 cro every friday at 10")
    assert "every friday at 10:00" in later.text and [b["text"] for b in later.buttons()] == ["Confirm", "Cancel"]


async def test_a_group_message_mentioning_the_bot_is_previewed_and_others_are_not(api, telegram):
    from tests.e2e.telegram.fake_bot_api import group

    room = group(-1009555, "Ops room")
    preview = await api.ask(OPERATOR, room, f"@{api.username} send 1 cro to {RECIPIENT}")
    assert f"/pay {RECIPIENT} 1 CRO" in preview.text and [b["text"] for b in preview.buttons()] == ["Confirm", "Cancel"]
    before = len(api.calls)
    await api.say(OPERATOR, room, f"send 1 cro to {RECIPIENT}")  # not addressed to the bot: left alone
    marker = await api.ask(OPERATOR, room, "/help")
    assert not [c for c in api.calls[before:] if c.method == "sendMessage" and c is not marker and f"/pay {RECIPIENT} 1 CRO" in c.text]
