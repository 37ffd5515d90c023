"""/ledger on Telegram through the real python-telegram-bot: refused to members, private to operators, a CSV export."""

from __future__ import annotations

import csv
import io
import re
import secrets

import pytest

from tests.e2e.telegram.conftest import MEMBER, OPERATOR
from tests.e2e.telegram.fake_bot_api import group

GROUP = group(-1009313, "Finance team")
PAYMENT_ID = re.compile(r"pay-[a-z0-9]{8}")
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


async def test_ledger_is_refused_to_members_private_to_operators_and_exports_a_csv(api, telegram):
    to = "0x" + secrets.token_hex(20)
    paid = await api.ask(OPERATOR, OPERATOR.dm, f"/pay {to} 0.75 CRO")
    payment = PAYMENT_ID.search(paid.text)
    assert payment is not None and "confirmed" in paid.text, paid.text

    refused = await api.ask(MEMBER, GROUP, "/ledger")
    assert "Only admins, approvers and operators can read the treasury ledger; you are a member." in plain(refused.text)

    before = len(api.calls)
    pointer = await api.ask(OPERATOR, GROUP, "/ledger 5")  # asked in a group: answered in private
    assert payment.group() not in pointer.text
    listing = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id
                                 and "Treasury ledger" in c.text, after=before)
    shown = plain(listing.text)
    assert f"payment  {payment.group()}  0.75 CRO → {to[:6]}".lower() in shown.lower() and f"by telegram:{OPERATOR.id}" in shown
    assert any(b["text"] == "Export CSV" for b in listing.buttons())

    before = len(api.calls)
    await api.say(OPERATOR, OPERATOR.dm, "/ledger export CRO")
    sent = await api.wait_for(lambda c: c.method == "sendDocument" and c.chat_id == OPERATOR.id, after=before)
    table = list(csv.DictReader(io.StringIO(sent.params["document"]["content"].decode("utf-8-sig"))))
    mine = next(r for r in table if r["id"] == payment.group())
    assert (mine["kind"], mine["token"], mine["amount_units"], mine["amount"], mine["status"]) == \
        ("payment", "CRO", str(75 * 10**16), "0.75", "paid")
    assert mine["recipient"].lower() == to and mine["requester"] == f"telegram:{OPERATOR.id}"
    assert mine["tx_hash"].startswith("0x") and sent.params["document"]["filename"].startswith("ledger-cro-")
