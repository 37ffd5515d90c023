"""A member's escrowed intent and a price alert through the real python-telegram-bot against the fake Bot API, on
the embedded chain: the reply names the intent and holds its EIP-681 link, the QR code arrives as a photo, and a
price crossing arrives as one private price_alert message."""

from __future__ import annotations

import re

import pytest

from tests.e2e.telegram.conftest import MEMBER
from tests.e2e.telegram.fake_bot_api import Call

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
INTENT = re.compile(r"Intent (?:<[a-z]+>)?(int-[a-z0-9]{8})")
LINK = re.compile(r"ethereum:0x[0-9a-fA-F]{40}@\d+/fundIntent\?[^\s\"<]+")
PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


def photos_after(api, chat_id: int, first: int) -> list[Call]:
    return [c for c in api.calls[first:] if c.method == "sendPhoto" and c.chat_id == chat_id and c.status == 200]


async def test_a_members_pay_in_a_dm_is_an_intent_with_its_link_and_a_qr_photo(api, telegram):
    before = len(api.calls)
    reply = await api.ask(MEMBER, MEMBER.dm, f"/pay {RECIPIENT} 1.5 CRO")
    found = INTENT.search(reply.text)
    assert found, reply.text
    assert "funded 0 of 1.5 CRO" in reply.text
    link = LINK.search(reply.text)
    assert link and "value=1500000000000000000" in link.group(0), reply.text
    photo = await api.wait_for(lambda c: c.method == "sendPhoto" and c.chat_id == MEMBER.id and c.status == 200,
                               after=before)
    upload = photo.params["photo"]
    assert upload["content"].startswith(PNG) and upload["filename"].endswith(".png")
    assert len(photos_after(api, MEMBER.id, before)) == 1  # one link (native CRO), one QR
    assert not [c for c in api.calls[before:] if c.method == "sendDocument" and c.chat_id == MEMBER.id]
    status = await api.ask(MEMBER, MEMBER.dm, f"/status {found.group(1)}")
    assert found.group(1) in status.text and "funded 0 of 1.5 CRO" in status.text


async def test_a_price_alert_arrives_once_per_crossing(api, telegram):
    made = await api.ask(MEMBER, MEMBER.dm, "/alert CRO above 0.5")
    alert_id = re.search(r"alert-[a-z0-9]{8}", made.text).group(0)
    assert "CRO/USD goes above 0.5 USD" in made.text
    feed = telegram.core.engine.services.prices
    before = len(api.calls)
    await feed.set_price("CRO/USD", 60_000_000)  # the market moves: 0.6 USD at the dev feed's 8 decimals
    dm = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and alert_id in c.text,
                            after=before)
    assert "CRO/USD</b> rose above 0.5 USD: <b>0.6 USD</b> now" in dm.text
    await feed.set_price("CRO/USD", 70_000_000)  # still above: no second message
    listed = await api.ask(MEMBER, MEMBER.dm, "/alerts")
    assert "told 1×" in listed.text
    assert len([c for c in api.calls[before:] if c.method == "sendMessage" and alert_id in c.text
                and "rose above" in c.text]) == 1
    await api.ask(MEMBER, MEMBER.dm, f"/alert cancel {alert_id}")
    await feed.set_price("CRO/USD", 10_000_000)  # back to where the session's other tests expect it
