"""Issue 9 on Discord, through the real discord.py client and the fake Discord: who an operator is (C1), and that a
private answer given in a server channel is seen by its asker only."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord import DiscordFrontend, SnowRailClient, point_at
from bot.discord_mode import start
from bot.settings import ConfigError
from core.replies import Button, Reply
from tests.adapters.discord.fakes import FakeEngine
from tests.e2e.discord.conftest import ALICE, OPERATOR, TREASURER, bot_settings
from tests.e2e.discord.fake_discord import EPHEMERAL, FakeDiscord

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = re.compile(r"0x[0-9a-f]{64}")
EVE = (700000000000000011, "eve")  # owns a server of her own, which invited the bot
SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
ROOT = str(Path(__file__).resolve().parents[3])  # the tree under test, ahead of the installed package


async def ask(fake: FakeDiscord, name: str, options: dict | None = None, who=OPERATOR, **kw):
    return await fake.answer(await fake.send(fake.slash(name, options or {}, who, **kw)))


# ------------------------------------------------------------------ C1: operators by role id, in our guild only
async def test_c1_role_named_like_operator_in_another_guild_is_refused(fake, discord_bot, caplog):
    caplog.set_level("INFO", logger="snowrail")
    # Eve's server has a role called Treasurer and one named like our operator role's id; she holds both.
    stranger = fake.stranger_guild_id
    roles = tuple(fake.roles[stranger])
    answer = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.5"}, EVE, guild=stranger, roles=roles)
    assert answer.ephemeral and "does not act in this server" in answer.content, answer.content
    assert not TX.search(answer.content) and "Nothing was done" in answer.content
    # Logged once, by ids (who, where, which command), never with its options.
    (refusal,) = [r.getMessage() for r in caplog.records if r.name.startswith("snowrail") and str(stranger) in r.getMessage()]
    assert str(EVE[0]) in refusal and "/pay" in refusal and ADDRESS not in refusal and "0.5" not in refusal
    # Not even a harmless command runs there, nor an autocomplete, whoever asks.
    help_ = await ask(fake, "help", {}, OPERATOR, guild=stranger)
    assert help_.ephemeral and "does not act in this server" in help_.content
    typed = await fake.answer(await fake.send(fake.slash("status", {"id": "pay"}, OPERATOR, guild=stranger, focused="id")))
    assert typed.payload["type"] == 8 and typed.payload["data"]["choices"] == []
    # Eve's own history in a DM holds nothing: the refusal came before the engine.
    mine = await ask(fake, "history", {}, EVE, dm=True)
    assert "0.5 CRO" not in mine.content


async def test_c1_a_role_named_like_the_operator_role_id_in_our_guild_is_not_the_role(fake, discord_bot):
    decoy = next(rid for rid, name in fake.roles[fake.guild_id].items() if name == str(fake.operator_role_id))
    member = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.5"}, ALICE, roles=(decoy,))
    assert "Intent int-" in member.content and "Payment pay-" not in member.content  # not an operator: they fund it themselves
    paid = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.5"}, TREASURER, operator=True)
    assert TX.search(paid.content), paid.content  # the role itself, by its id, still counts


async def test_c1_a_button_pressed_in_another_guild_is_refused(fake, discord_bot):
    asked = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "130"})  # above the limit: Confirm / Cancel
    confirm = next(c for c in asked.custom_ids if "/confirm" in c)
    # The same message and button, pressed from Eve's server (say the message was forwarded there).
    iid = await fake.send(fake.press(asked.message, confirm, OPERATOR, guild=fake.stranger_guild_id))
    refusal = await fake.answer(iid)
    assert refusal.ephemeral and "does not act in this server" in refusal.content
    cancel = next(c for c in asked.custom_ids if "/cancel" in c)
    cancelled = await fake.answer(await fake.send(fake.press(asked.message, cancel, OPERATOR)))
    assert "Cancelled" in cancelled.content  # it was still open: the refused press did nothing


async def test_c1_commands_are_registered_in_the_configured_guild_and_elsewhere_only_for_dms(fake, discord_bot):
    guild = await fake.wait_for(lambda e: e.kind == "sync" and e.payload["guild"] == fake.guild_id)
    glob = await fake.wait_for(lambda e: e.kind == "sync" and e.payload["guild"] is None)
    assert "pay" in guild.payload["names"] and guild.at <= glob.at
    assert fake.stranger_guild_id not in fake.commands
    assert {c["name"] for c in fake.commands[None]} == set(guild.payload["names"])
    assert all(c["contexts"] == [1] for c in fake.commands[None])  # 1: a DM with the bot; never a server (0)


async def test_c1_operator_role_without_guild_ids_is_a_config_error(tmp_path):
    fake = FakeDiscord()  # never started: the refusal comes before any connection
    with pytest.raises(ConfigError, match="DISCORD_OPERATOR_ROLE needs DISCORD_GUILD_IDS"):
        await start(bot_settings(fake, tmp_path, discord_guild_ids=""))


async def test_c1_role_name_is_refused_at_start(tmp_path):
    fake = await FakeDiscord().start()
    try:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "PYTHONPATH": ROOT, **fake.env(),
               "DISCORD_OPERATOR_ROLE": "Treasurer"}  # fmt: skip
        bot = await asyncio.create_subprocess_exec(
            SNOWRAIL, "run", "discord", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await asyncio.wait_for(bot.communicate(), 60)
        except TimeoutError:  # it started instead of refusing
            bot.kill()
            out, err = await bot.communicate()
    finally:
        await fake.stop()
    message = err.decode()
    assert bot.returncode == 2, message[-2000:]
    assert message.startswith("snowrail: DISCORD_OPERATOR_ROLE: “Treasurer” is not a role id") and message.count("\n") == 1
    assert "Server Settings → Roles → right-click the role → Copy Role ID" in message and "Developer Mode" in message
    assert not fake.intents and not fake.events  # it never logged in, let alone connected
    assert fake.token not in (out + err).decode() and "Traceback" not in message


# ------------------------------------------------------------------ H4: a mention names a Discord user by id
async def link(fake: FakeDiscord, who: tuple[int, str]) -> str:
    """`who` links a fresh wallet by signature; returns its address."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    wallet = Account.create()
    challenge = await ask(fake, "link", {"address": wallet.address}, who)
    message = re.search(r"```\n(.*?)\n```", challenge.content, re.S).group(1)
    signature = Account.sign_message(encode_defunct(text=message), wallet.key).signature.hex()
    linked = await ask(fake, "link", {"signature": "0x" + signature.removeprefix("0x")}, who)
    assert "Linked" in linked.content, linked.content
    return wallet.address


async def test_h4_discord_mention_resolves_by_user_id(fake, discord_bot):
    carol, successor = (700000000000000021, "carol"), (700000000000000022, "carol")  # the name changed hands
    first, second = await link(fake, carol), await link(fake, successor)
    for who, wallet in ((carol, first), (successor, second)):
        # The Discord client sends a picked mention as <@id> in the text option; it reaches the core as discord:<id>.
        asked = await ask(fake, "pay", {"recipient": f"<@{who[0]}>", "amount": "0.01"})
        assert wallet in asked.content and f"(discord:{who[0]})" in asked.content, asked.content
        assert not TX.search(asked.content)  # shown before any money moves
        cancel = next(c for c in asked.custom_ids if "/cancel" in c)
        assert "Cancelled" in (await fake.answer(await fake.send(fake.press(asked.message, cancel, OPERATOR)))).content


# ------------------------------------------------------------------ private answers in a server channel
class Scripted(FakeEngine):
    """The engine's port (core.ports.ChatEngine), answering each command text with a scripted Reply; records what it
    was asked."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        super().__init__()
        self.replies, self.asked = replies, []

    async def handle_text(self, text: str, *, actor, key: str) -> Reply:
        self.asked.append(text)
        return self.replies[text.split(" ", 1)[0]]


@pytest.fixture
async def scripted(tmp_path):
    """A fake of its own with the real SnowRailClient on it, behind a scripted engine. point_at() is process-wide:
    the session's bot gets its fake back afterwards."""
    saved = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    fake = await FakeDiscord().start()
    balance = "Treasury: 12,345 CRO"
    engine = Scripted({
        "/history": Reply.of(*[f"pay-{n:08d} · {balance}" for n in range(120)], private=True),  # three messages
        "/pay": Reply.of("Pay 1 CRO?", buttons=(Button("Details", "/status pay-abc"),)),
        "/status": Reply.of(f"pay-abc: {balance}", private=True),
    })  # fmt: skip
    frontend = DiscordFrontend(engine, guild_ids=(fake.guild_id,))
    point_at(fake.api_url, fake.gateway_url)
    client = SnowRailClient(frontend, token_symbols=["CRO"], guild_ids=(fake.guild_id,), guard=False)
    await client.login(fake.token)
    connection = asyncio.create_task(client.connect(reconnect=False))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 30)
        await fake.wait_for(lambda e: e.kind == "sync" and e.payload["guild"] is None, timeout=30)
        yield fake, frontend, balance
    finally:
        await client.close()
        await asyncio.gather(connection, return_exceptions=True)
        await fake.stop()
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved


def seen_by_others(fake: FakeDiscord, text: str) -> list:
    """Every message in the channel that holds `text` and is not ephemeral (what everyone there can read)."""
    return [m for m in fake.messages.values() if text in (m.get("content") or "") and not int(m.get("flags") or 0) & EPHEMERAL]


async def test_a_private_reply_in_a_server_channel_is_ephemeral_however_it_is_answered(scripted):
    fake, frontend, balance = scripted
    quick = await ask(fake, "status", {"id": "pay-abc"}, ALICE)
    assert quick.kind == "callback" and quick.ephemeral and balance in quick.content

    frontend.defer_after = 0.0  # slow work: a public "thinking…" placeholder first
    try:
        iid = await fake.send(fake.slash("history", {}, ALICE))
        parts = [await fake.wait_for(lambda e, n=n: e.interaction_id == iid and e.kind == "followup"
                                     and f"pay-{n:08d}" in e.content) for n in (0, 119)]  # fmt: skip
    finally:
        frontend.defer_after = 1.0
    placeholder = fake.of(iid, "callback")[0]
    assert placeholder.payload["type"] == 5 and not placeholder.ephemeral  # the placeholder was public…
    assert fake.of(iid, "delete")  # …so it was deleted before the private answer came
    assert len(fake.of(iid, "followup")) == 3 and all(e.ephemeral for e in fake.of(iid, "followup"))
    assert parts[0].ephemeral and parts[1].ephemeral

    public = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "1"}, ALICE)
    assert not public.ephemeral and public.custom_ids  # a public question with a button…
    press = await fake.send(fake.press(public.message, public.custom_ids[0], ALICE))
    details = await fake.wait_for(lambda e: e.interaction_id == press and e.kind == "followup")
    assert details.ephemeral and balance in details.content  # …whose private answer is the presser's alone

    assert seen_by_others(fake, balance) == []


async def test_history_status_and_an_operators_wallet_are_answered_privately_in_the_server(fake, discord_bot):
    paid = await ask(fake, "pay", {"recipient": ADDRESS, "amount": "0.02"})
    pay_id = re.search(r"pay-[a-z0-9]{8}", paid.content).group(0)
    for name, options in (("history", {"n": 50}), ("status", {"id": pay_id})):
        answer = await ask(fake, name, options, OPERATOR)
        assert answer.ephemeral and pay_id in answer.content, (name, answer.content)
    wallet = await ask(fake, "wallet", {}, OPERATOR)  # an operator's shows the treasury's balances
    assert wallet.ephemeral and wallet.content
