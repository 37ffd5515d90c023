"""Schedules, intents and price alerts through the real discord.py client and the fake Discord: an operator's /pay
with `when` stores a schedule, a member's /pay opens an intent with its EIP-681 link and QR image, /alert, /alerts."""

from __future__ import annotations

import re

from tests.e2e.discord.conftest import ADMIN, ALICE, OPERATOR

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
LINK = re.compile(r"ethereum:0x[0-9a-fA-F]{40}@\d+/fundIntent\?[^\s\"<>)`]+")
PNG = b"\x89PNG\r\n\x1a\n"


async def ask(fake, name, options=None, who=OPERATOR, **kw):
    return await fake.answer(await fake.send(fake.slash(name, options or {}, who, **kw)))


async def test_an_operators_pay_with_when_stores_a_schedule_that_schedules_lists(fake, discord_bot):
    stored = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "2", "token": "CRO",
                                     "when": "every friday at 10:00"})
    m = re.match(r"Schedule `(sch-[a-z0-9]+)`: \*\*2 CRO\*\* to " + ADDRESS + r" every friday at 10:00 UTC; "
                 r"next run \d{4}-\d{2}-\d{2} 10:00 UTC\.", stored.content)
    assert m, stored.content
    sid = m.group(1)
    assert [c.split(":", 3)[-1] for c in stored.custom_ids] == [f"/schedule skip {sid}", f"/schedule pause {sid}",
                                                                f"/schedule cancel {sid}"]
    listed = await ask(fake, "schedules")
    assert listed.ephemeral and sid in listed.content and "every friday at 10:00 UTC" in listed.content
    assert "next: " in listed.content and "2 CRO to " + ADDRESS in listed.content
    paused = await ask(fake, "schedule", {"action": "pause", "id": sid})
    assert f"Paused {sid}" in paused.content, paused.content
    assert "[paused]" in (await ask(fake, "schedules")).content
    assert f"Cancelled {sid}" in (await ask(fake, "schedule", {"action": "cancel", "id": sid})).content
    assert sid not in (await ask(fake, "schedules")).content


async def test_a_members_pay_opens_an_intent_with_its_link_and_qr_image(fake, discord_bot):
    opened = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "3", "token": "CRO"}, who=ALICE)
    intent = re.search(r"Intent `(int-[a-z0-9]+)`", opened.content)
    assert intent, opened.content
    iid = intent.group(1)
    assert "funded 0 of 3 CRO" in opened.content and "awaiting funds" in opened.content
    link = LINK.search(opened.content)
    assert link and "value=3000000000000000000" in link.group(0), opened.content
    assert f"address={ADDRESS}" in link.group(0)
    (name,) = opened.files
    assert name == f"{iid}-fund.png" and opened.files[name].startswith(PNG)  # the QR, shown in the message
    assert [c.split(":", 3)[-1] for c in opened.custom_ids] == [f"/deposit {iid}", f"/cancel {iid}"]
    status = await ask(fake, "status", {"id": iid}, who=ALICE)
    assert iid in status.content and "funded 0 of 3 CRO" in status.content, status.content


async def test_an_alert_is_set_listed_fires_when_the_dev_feed_crosses_and_is_cancelled(fake, discord_bot):
    made = await ask(fake, "alert", {"pair": "CRO", "side": "above", "price": "0.12"}, who=ALICE)
    m = re.search(r"Alert `(alert-[a-z0-9]+)`", made.content)
    assert m and "CRO/USD goes above 0.12 USD" in made.content, made.content
    aid = m.group(1)
    listed = await ask(fake, "alerts", who=ALICE)
    assert f"`{aid}` CRO/USD above 0.12 USD" in listed.content, listed.content
    moved = await ask(fake, "price", {"pair": "CRO", "to": "0.2"}, who=ADMIN)
    assert "0.2" in moved.content, moved.content
    # The bot's due-time loop sees the crossing and DMs the alert's owner.
    fired = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == ALICE[0] and aid in e.content,
                                timeout=30)
    assert "**CRO/USD** rose above 0.12 USD: **0.2 USD** now" in fired.content, fired.content
    assert "0.1" in (await ask(fake, "price", {"pair": "CRO", "to": "0.1"}, who=ADMIN)).content  # back for others
    gone = await ask(fake, "alert", {"cancel": aid}, who=ALICE)
    assert aid in gone.content, gone.content
    assert aid not in (await ask(fake, "alerts", who=ALICE)).content
