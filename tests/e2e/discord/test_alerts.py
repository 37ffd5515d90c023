"""Security alerts through the real discord.py client and the fake Discord: an interaction from a server outside
DISCORD_GUILD_IDS is refused, and every admin gets a DM naming who, where and which command."""

from __future__ import annotations

from tests.e2e.discord.conftest import ADMIN

ZED = (700000000000000041, "zed")  # strangers in a server that invited the bot
YAN = (700000000000000042, "yan")


async def test_an_interaction_from_a_foreign_guild_alerts_the_admins(fake, discord_bot):
    stranger = fake.stranger_guild_id
    await fake.answer(await fake.send(fake.slash("help", {}, ADMIN)))  # the bot DMs only people who have used it
    answer = await fake.answer(await fake.send(fake.slash("pay", {"recipient": "0x" + "ab" * 20, "amount": "7.25"},
                                                          ZED, guild=stranger)))
    assert answer.ephemeral and "does not act in this server" in answer.content, answer.content
    alert = await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == ADMIN[0]
                                and "Security alert" in e.content and f"discord:{ZED[0]}" in e.content)
    assert "interaction from an unknown Discord server" in alert.content
    assert f"used /pay from server `{stranger}`" in alert.content, alert.content
    assert "IDS. It was refused; nothing was done." in alert.content  # "DISCORD_GUILD_IDS", markdown-escaped
    assert "7.25" not in alert.content  # the command's options are not repeated
    # A second command from them this hour is refused as well, but not announced again.
    again = await fake.answer(await fake.send(fake.slash("help", {}, ZED, guild=stranger)))
    assert "does not act in this server" in again.content
    # Another stranger's attempt is announced; alerts are delivered oldest first, so once theirs has arrived, a second
    # one about Zed would have too.
    await fake.answer(await fake.send(fake.slash("help", {}, YAN, guild=stranger)))
    await fake.wait_for(lambda e: e.kind == "dm" and e.payload["user_id"] == ADMIN[0] and f"discord:{YAN[0]}" in e.content)
    about_zed = [e for e in fake.events if e.kind == "dm" and e.payload["user_id"] == ADMIN[0] and f"discord:{ZED[0]}" in e.content]
    assert len(about_zed) == 1
