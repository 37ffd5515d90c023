"""A payout list pasted after /bulk in a Discord message (a slash option holds one line), through the real discord.py."""

from __future__ import annotations

import re

from tests.e2e.discord.conftest import ALICE, OPERATOR, TREASURER

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OTHER = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"
TX = re.compile(r"0x[0-9a-f]{64}")


async def reply_in(fake, channel: int, after: float, *words: str):
    """The bot's first message in `channel` sent after `after` that holds every one of `words`."""
    return await fake.wait_for(lambda e: e.kind == "dm" and e.at > after and e.message["channel_id"] == str(channel)
                               and all(w in e.content for w in words))


async def test_a_list_pasted_in_a_dm_is_previewed_executed_and_paid(fake, discord_bot):
    before = fake.events[-1].at if fake.events else 0.0
    await fake.post(f"/bulk\n{ADDRESS} 1.5\n{OTHER}=2 CRO", OPERATOR, dm=True)
    preview = await reply_in(fake, fake._dm_channel_id(OPERATOR[0]), before, "pasted.txt")
    assert "Recipients: 2" in preview.content and "3.5 CRO" in preview.content, preview.content
    execute = next(c for c in preview.custom_ids if "/bulk execute" in c)
    iid = await fake.send(fake.press(preview.message, execute, OPERATOR, dm=True))
    started = await fake.wait_for(lambda e: e.interaction_id == iid and e.kind == "followup")
    batch = re.search(r"bulk-[a-z0-9]{8}", started.content).group(0)
    done = await fake.wait_for(lambda e: e.kind == "dm" and f"{batch} finished" in e.content, timeout=60)
    assert "Paid: 2 of 2" in done.content and "3.5 CRO" in done.content
    (report,) = done.files.values()
    assert len(TX.findall(report.decode())) == 2


async def test_a_pasted_list_in_the_server_counts_the_operator_role_and_a_stray_word_names_its_line(fake, discord_bot):
    before = fake.events[-1].at
    await fake.post(f"<@{fake.bot_id}> /bulk\n{ADDRESS} 1\n{OTHER} 2 CRO", TREASURER, operator=True)
    preview = await reply_in(fake, fake.channel_id, before, "pasted.txt")
    assert "3 CRO" in preview.content and any("/bulk execute" in c for c in preview.custom_ids)
    before = preview.at
    await fake.post(f"/bulk\n{ADDRESS} 1\nthanks", TREASURER, operator=True)
    refused = await reply_in(fake, fake.channel_id, before, "line 2")
    assert "thanks" in refused.content and not refused.custom_ids  # nothing stored, nothing to execute


async def test_a_long_paste_discord_attached_as_message_txt_is_read_as_the_list(fake, discord_bot):
    rows = "".join(f"{ADDRESS if i % 2 else OTHER} 0.0{i + 1}\n" for i in range(80))  # over 2,000 characters
    before = fake.events[-1].at
    await fake.post("/bulk", OPERATOR, dm=True, attachment=("message.txt", rows.encode()))
    preview = await reply_in(fake, fake._dm_channel_id(OPERATOR[0]), before, "message.txt")
    assert "in 80 rows" in preview.content, preview.content


async def test_other_messages_starting_with_bulk_are_left_to_the_slash_command(fake, discord_bot):
    before = fake.events[-1].at
    await fake.post("/bulk status bulk-abcdefgh", ALICE, dm=True)  # one line: what the slash command is for
    await fake.post("/bulk\n", ALICE, dm=True)  # nothing pasted: the usage line, nothing stored
    usage = await reply_in(fake, fake._dm_channel_id(ALICE[0]), before, "Usage: /bulk")
    assert not [e for e in fake.events if e.kind == "dm" and before < e.at < usage.at
                and e.message["channel_id"] == str(fake._dm_channel_id(ALICE[0]))]
