"""A 2-of-3 approval through the real python-telegram-bot against the fake Bot API: the approvers get DMs with
Approve / Reject buttons and press them; a double press counts once; a rejection tells the requester why."""

from __future__ import annotations

import re

import pytest

from bot.telegram_mode import start
from tests.e2e.telegram.conftest import OPERATOR, bot_settings
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person, group

APRIL, AMOS, ANN = Person(5101, "April", "april_ok"), Person(5102, "Amos", "amos_ok"), Person(5103, "Ann", "ann_ok")
GROUP = group(-1009501, "Treasury team")
RECIPIENT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


def plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


async def test_two_of_three_by_buttons_in_dms_then_a_rejection(tmp_path):
    api = await FakeBotApi(token="7005:approvals-bot-token-eee").start()
    api.started.update({OPERATOR.id, APRIL.id, AMOS.id, ANN.id})
    approvers = ",".join(f"telegram:{p.id}" for p in (APRIL, AMOS, ANN))
    tg = await start(bot_settings(api, tmp_path, approvers=approvers, approval_threshold="CRO=50"), poll_timeout=1.0)
    try:
        menu = await api.wait_for(lambda c: c.method == "setMyCommands")
        assert {"approve", "reject", "pending"} <= {c["command"] for c in menu.params["commands"]}
        before = len(api.calls)
        asked = await api.ask(OPERATOR, GROUP, f"/pay {RECIPIENT} 60")
        found = re.search(r"Payment (pay-[a-z0-9]+) awaiting approval \(0 of 2\)", plain(asked.text))
        assert found, asked.text
        pid = found.group(1)
        dms = {}
        for person in (APRIL, AMOS, ANN):
            dms[person.id] = await api.wait_for(
                lambda c, p=person: c.method == "sendMessage" and c.chat_id == p.id and "Approval needed" in c.text,
                after=before)
        ask = plain(dms[APRIL.id].text)
        assert "60 CRO" in ask and RECIPIENT in ask and "@olga_ops (telegram:1001)" in ask and pid in ask
        assert [b["text"] for b in dms[APRIL.id].buttons()] == ["Approve", "Reject"]

        def edit_of(dm, after):
            return api.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == dm.chat_id
                                and c.params["message_id"] == dm.result["message_id"], after=after)

        before = len(api.calls)
        await api.press(APRIL, dms[APRIL.id], "Approve")
        first = await edit_of(dms[APRIL.id], before)
        assert f"Approved: payment {pid} has 1 of 2 approvals" in plain(first.text)
        # A double tap on the same button is the same request: answered again, counted once.
        before = len(api.calls)
        await api.press(APRIL, dms[APRIL.id], "Approve")
        again = await edit_of(dms[APRIL.id], before)
        assert "1 of 2" in plain(again.text)
        typed = await api.ask(APRIL, APRIL.dm, f"/approve {pid}")
        assert f"You already approved {pid}" in plain(typed.text)
        own = await api.ask(OPERATOR, OPERATOR.dm, f"/approve {pid}")
        assert "You cannot approve your own payment" in plain(own.text)

        before = len(api.calls)
        await api.press(AMOS, dms[AMOS.id], "Approve")
        paid = await edit_of(dms[AMOS.id], before)
        assert f"Approved (2 of 2): payment {pid}" in plain(paid.text) and "confirmed" in plain(paid.text)
        told = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id
                                  and "was approved by" in c.text, after=before)
        assert f"telegram:{APRIL.id}, telegram:{AMOS.id}: paid" in plain(told.text)
        before = len(api.calls)
        await api.press(ANN, dms[ANN.id], "Approve")
        late = await edit_of(dms[ANN.id], before)
        assert "Too late to approve" in plain(late.text) and "already approved (2 of 2)" in plain(late.text)
        history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
        assert plain(history.text).count(pid) == 1

        # A rejection: typed with a reason; the requester is told why, and nothing is paid.
        before = len(api.calls)
        asked = await api.ask(OPERATOR, GROUP, f"/pay {RECIPIENT} 70")
        other = re.search(r"Payment (pay-[a-z0-9]+) awaiting", plain(asked.text)).group(1)
        await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == ANN.id and other in c.text, after=before)
        rejected = await api.ask(ANN, ANN.dm, f"/reject {other} not in this month's budget")
        assert f"Rejected: payment {other} is cancelled" in plain(rejected.text)
        why = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == OPERATOR.id
                                 and "was rejected by" in c.text, after=before)
        assert "@ann_ok (telegram:5103): not in this month's budget. Nothing was paid." in plain(why.text)
        status = await api.ask(OPERATOR, OPERATOR.dm, f"/status {other}")
        assert "cancelled" in plain(status.text)
    finally:
        await tg.stop()
        await api.stop()
