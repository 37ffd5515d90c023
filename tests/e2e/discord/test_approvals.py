"""A 2-of-3 approval through the real discord.py against the fake Discord: approvers get DMs with Approve /
Reject buttons and press them (a double press counts once); a rejection by slash command tells the requester."""

from __future__ import annotations

import re

import discord
from discord.gateway import DiscordWebSocket

from bot.discord_mode import start
from tests.e2e.discord.conftest import ADMIN, OPERATOR, bot_settings
from tests.e2e.discord.fake_discord import FakeDiscord

APRIL, AMOS, ANN = (700000000000000051, "april"), (700000000000000052, "amos"), (700000000000000053, "ann")
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def approvers() -> str:
    return ",".join(f"discord:{p[0]}" for p in (APRIL, AMOS, ANN))


async def test_two_of_three_by_dm_buttons_a_double_press_and_a_rejection(tmp_path):
    # The base URLs are process-wide (adapters.discord.client.point_at): put back the session bot's after this one.
    was = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = await FakeDiscord().start()
    bot = await start(bot_settings(fake, tmp_path, approvers=approvers(), approval_threshold="CRO=50"))
    try:
        synced = await fake.wait_for(lambda e: e.kind == "sync", timeout=30)
        assert {"approve", "reject", "pending"} <= set(synced.payload["names"])
        for who in (APRIL, AMOS, ANN, ADMIN):  # the bot DMs only people who have used it (no cold DMs)
            await fake.answer(await fake.send(fake.slash("start", {}, who)))
        asked = await fake.answer(await fake.send(fake.slash("pay", {"recipient": ADDRESS, "amount": "60"}, OPERATOR)))
        found = re.search(r"Payment (pay-[a-z0-9]+) awaiting approval \(0 of 2\)", asked.content)
        assert found, asked.content
        pid = found.group(1)
        dms = {}
        for who in (APRIL, AMOS, ANN, ADMIN):  # the admin may approve too
            dms[who[0]] = await fake.wait_for(
                lambda e, w=who: e.kind == "dm" and e.payload["user_id"] == w[0] and "Approval needed" in e.content)
        text = dms[APRIL[0]].content
        assert "60 CRO" in text and ADDRESS in text and f"discord:{OPERATOR[0]}" in text and pid in text
        ids = dms[APRIL[0]].custom_ids
        approve = next(c for c in ids if f"/approve {pid}" in c)
        assert any(f"/reject {pid}" in c for c in ids)

        message = dms[APRIL[0]].message
        first = await fake.send(fake.press(message, approve, APRIL, dm=True))
        second = await fake.send(fake.press(message, approve, APRIL, dm=True))  # a double press
        one = await fake.wait_for(lambda e: e.interaction_id == first and e.kind == "followup")
        two = await fake.wait_for(lambda e: e.interaction_id == second and e.kind == "followup")
        assert f"Approved: payment {pid} has 1 of 2 approvals" in one.content, one.content
        assert "1 of 2" in two.content or "already approved" in two.content, two.content

        amos = next(c for c in dms[AMOS[0]].custom_ids if f"/approve {pid}" in c)
        paid_iid = await fake.send(fake.press(dms[AMOS[0]].message, amos, AMOS, dm=True))
        paid = await fake.wait_for(lambda e: e.interaction_id == paid_iid and e.kind == "followup")
        assert f"Approved (2 of 2): payment {pid}" in paid.content and "confirmed" in paid.content, paid.content
        told = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == OPERATOR[0]
                                   and "was approved by" in e.content)
        assert f"discord:{APRIL[0]}, discord:{AMOS[0]}: paid" in told.content
        history = await fake.answer(await fake.send(fake.slash("history", {"n": 50}, OPERATOR)))
        assert history.content.count(pid) == 1

        asked = await fake.answer(await fake.send(fake.slash("pay", {"recipient": ADDRESS, "amount": "70"}, OPERATOR)))
        other = re.search(r"Payment (pay-[a-z0-9]+) awaiting", asked.content).group(1)
        rejected = await fake.answer(await fake.send(
            fake.slash("reject", {"id": other, "reason": "not in   this month's budget"}, ANN)))
        assert f"Rejected: payment {other} is cancelled" in rejected.content, rejected.content
        why = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == OPERATOR[0]
                                  and "was rejected by" in e.content)
        assert "not in this month's budget. Nothing was paid." in why.content
        late = await fake.answer(await fake.send(fake.slash("approve", {"id": other}, APRIL)))
        assert "Too late to approve" in late.content and "rejected" in late.content
    finally:
        await bot.stop()
        await fake.stop()
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = was
