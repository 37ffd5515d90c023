"""The translation layer with fakes at the engine's port: texts, keys, actors, privacy, deferral, buttons."""

import asyncio
import time

import discord

from adapters.discord import commands
from adapters.discord.buttons import custom_id
from adapters.discord.frontend import REFUSED_GUILD, REFUSED_PRESS, DiscordFrontend
from adapters.discord.identity import holds_role, press_key
from adapters.discord.render import NO_MENTIONS
from core.replies import Button, Press, Reply
from tests.adapters.discord.fakes import (
    GUILD,
    OTHER_GUILD,
    FakeEngine,
    FakeInteraction,
    FakeMessage,
    PastedMessage,
    Shown,
    button_row,
    person,
)

ROLE_ID = 830000000000000555
TREASURER_ROLE = (ROLE_ID, "Treasurer")


def guarded(engine, **kw) -> DiscordFrontend:
    """A front end as `snowrail run discord` builds it: one configured guild, whose role ROLE_ID marks operators."""
    return DiscordFrontend(engine, operator_role=ROLE_ID, guild_ids=(GUILD,), **kw)


async def test_a_slash_command_is_its_text_with_the_interaction_key():
    engine = FakeEngine()
    front = guarded(engine)
    i = FakeInteraction(person(7, "tess", TREASURER_ROLE))
    await front.command(i, commands.text("pay", "0xabc", " 0.5 ", None, "CRO"))
    (text, actor, key), = engine.calls
    assert text == "/pay 0xabc 0.5 CRO" and key == f"dc-{i.id}"
    assert actor.ref == "discord:7" and actor.operator and actor.handle == "tess"
    kind, content, kw = i.log[0]
    assert kind == "send" and content == "ok" and kw["ephemeral"] is False
    assert kw["allowed_mentions"].to_dict() == {"parse": []}


def test_c1_operator_role_counts_by_id_only_and_only_in_a_configured_guild():
    front = guarded(FakeEngine())
    assert front.actor(FakeInteraction(person(1, "a", TREASURER_ROLE))).operator
    named_like_it = person(1, "a", (830000000000000999, "Treasurer"), (830000000000000998, str(ROLE_ID)))
    assert not front.actor(FakeInteraction(named_like_it)).operator  # its name, or a name that reads as its id
    elsewhere = person(1, "a", TREASURER_ROLE, guild=OTHER_GUILD)
    assert not front.actor(FakeInteraction(elsewhere, guild_id=OTHER_GUILD)).operator
    assert not holds_role(person(1, "a", TREASURER_ROLE), ROLE_ID, OTHER_GUILD)  # a role of another guild than asked
    assert not holds_role(person(1, "a", TREASURER_ROLE), None, GUILD)


def test_c1_a_dm_never_makes_an_operator_by_role():
    front = guarded(FakeEngine())
    dm_user = person(1, "a")
    del dm_user.roles  # a discord.User: no roles outside a guild
    assert not front.actor(FakeInteraction(dm_user, guild_id=None)).operator
    # Even a user object that still carries a member's roles: a DM has no guild, so no role counts there.
    assert not front.actor(FakeInteraction(person(1, "a", TREASURER_ROLE), guild_id=None)).operator


def test_c1_an_operator_role_without_guilds_is_refused_by_the_front_end_too():
    import pytest

    with pytest.raises(ValueError, match="guild"):
        DiscordFrontend(FakeEngine(), operator_role=ROLE_ID)
    assert not DiscordFrontend(FakeEngine()).actor(FakeInteraction(person(1, "a", TREASURER_ROLE))).operator


async def test_c1_interactions_from_a_foreign_guild_are_refused_and_logged(caplog):
    caplog.set_level("INFO", logger="snowrail")
    engine = FakeEngine(operators=frozenset({"discord:66"}))
    front = guarded(engine)
    i = FakeInteraction(person(66, "eve", TREASURER_ROLE, guild=OTHER_GUILD), guild_id=OTHER_GUILD)
    assert not await front.admit(i, "/pay")
    ((kind, text, kw),) = i.log
    assert kind == "send" and text == REFUSED_GUILD and kw["ephemeral"] is True
    (refusal,) = [r.getMessage() for r in caplog.records if str(OTHER_GUILD) in r.getMessage()]
    assert "66" in refusal and "/pay" in refusal  # logged by ids: who, where, which command
    typing = FakeInteraction(person(66, "eve"), guild_id=OTHER_GUILD, kind=discord.InteractionType.autocomplete)
    assert not await front.admit(typing, "/status") and typing.log == [("autocomplete", None, {"choices": []})]
    press = FakeInteraction(person(66, "eve"), guild_id=OTHER_GUILD, message=FakeMessage(9))
    await front.press(press, Press("66", "/confirm pay-abc", int(time.time()) + 60))
    assert press.log[0][1] == REFUSED_GUILD and not engine.calls  # even an operator, even their own button
    # each refusal is reported for the admins' security alert (the engine throttles them), by ids and command only
    assert engine.alerts == [("foreign guild", "discord:66", str(OTHER_GUILD), what)
                             for what in ("/pay", "/status", "a /confirm button")]
    for here in (FakeInteraction(), FakeInteraction(guild_id=None)):  # the configured guild, and DMs
        assert await front.admit(here, "/help") and not here.log
    assert len(engine.alerts) == 3  # nothing reported from the configured guild or a DM
    assert await DiscordFrontend(FakeEngine()).admit(FakeInteraction(guild_id=OTHER_GUILD), "/help")  # no guilds set: any


async def test_h4_a_discord_mention_reaches_the_core_as_the_user_id():
    from core.commands import Actor
    from core.money import TokenRegistry
    from core.parsing import parse

    engine = FakeEngine()
    pay_command = {c.name: c for c in commands.build(DiscordFrontend(engine), ["CRO"])}["pay"]
    for typed in ("<@700000000000000003>", "<@!700000000000000003>"):
        await pay_command.callback(FakeInteraction(), typed, "1")
        text = engine.calls[-1][0]
        assert text == "/pay discord:700000000000000003 1"  # the adapter's syntax never reaches the core
        pay = parse(text, actor=Actor("discord", "1"), key="k", tokens=TokenRegistry.standard())
        assert pay.recipient.user_ref == "discord:700000000000000003" and pay.recipient.handle is None


async def test_private_replies_are_ephemeral_and_private_commands_always_are():
    front = DiscordFrontend(FakeEngine(Reply.of("challenge", private=True)))
    i = FakeInteraction()
    await front.command(i, "/link 0xabc")
    assert i.log[0][2]["ephemeral"] is True
    public_reply = DiscordFrontend(FakeEngine(Reply.of("balances")))
    j = FakeInteraction()
    await public_reply.command(j, "/wallet", private=True)
    assert j.log[0][2]["ephemeral"] is True


async def test_slow_work_defers_then_follows_up():
    engine = FakeEngine(delay=0.05)
    front = DiscordFrontend(engine, defer_after=0.01)
    i = FakeInteraction()
    await front.command(i, "/pay x 1")
    assert i.response.acknowledged_at < engine.returned_at  # Discord heard back before the work was done
    assert i.shown() == [Shown("ok", private=False)]  # and the answer took the place of "thinking…", publicly


async def test_a_private_answer_after_a_public_placeholder_replaces_it_privately():
    front = DiscordFrontend(FakeEngine(Reply.of("note", private=True), delay=0.05), defer_after=0.01)
    i = FakeInteraction()
    await front.command(i, "/status x")
    assert i.shown() == [Shown("note", private=True)]  # and nothing public is left behind


async def test_a_redelivered_interaction_is_seen_once():
    front = DiscordFrontend(FakeEngine())
    assert front.first_delivery(1) and not front.first_delivery(1) and front.first_delivery(2)


async def test_long_replies_are_several_messages_with_buttons_on_the_last():
    reply = Reply.of(*["x" * 100 for _ in range(40)], buttons=(Button("Confirm", "/confirm pay-abc", "primary"),))
    front = DiscordFrontend(FakeEngine(reply))
    i = FakeInteraction()
    await front.command(i, "/history 50")
    shown = i.shown()
    assert len(shown) == 3 and not any(m.private for m in shown)
    assert [m.view is not None for m in shown] == [False, False, True]
    (button,) = shown[-1].view.children
    assert button.custom_id.startswith(f"sr:{i.user.id}:") and button.custom_id.endswith(":/confirm pay-abc")


async def test_buttons_expire_by_removing_themselves():
    reply = Reply.of("ok?", buttons=(Button("Confirm", "/confirm pay-abc"), Button("Explorer", url="https://x.test/1")))
    front = DiscordFrontend(FakeEngine(reply), button_ttl=0.05)
    i = FakeInteraction()
    await front.command(i, "/pay x 200")
    view = i.log[0][2]["view"]
    await view.on_timeout()
    kind, _, kw = i.log[-1]
    assert kind == "edit_original"
    assert [b.url for b in kw["view"].children] == ["https://x.test/1"]


async def test_only_the_owner_or_an_operator_may_press_and_a_press_has_its_own_key():
    engine = FakeEngine(Reply.of("paid"))
    front = guarded(engine)
    message = FakeMessage(77, components=[button_row("Confirm")])
    press = Press(owner_id="42", expires=int(time.time()) + 60, command="/confirm pay-abc")

    stranger = FakeInteraction(person(9, "mallory"), message=message)
    await front.press(stranger, press)
    assert stranger.log == [("send", REFUSED_PRESS, stranger.log[0][2])] and stranger.log[0][2]["ephemeral"]
    assert not engine.calls

    owner = FakeInteraction(person(42, "alice"), message=message)
    await front.press(owner, press)
    assert message.buttons() == [] and [m.text for m in owner.shown()] == ["paid"]  # no second press from here
    operator = FakeInteraction(person(8, "tess", TREASURER_ROLE), message=message)
    await front.press(operator, press)
    keys = [k for _, _, k in engine.calls]
    assert keys == [press_key(77, "/confirm pay-abc")] * 2  # a second press replays the first
    assert press_key(78, "/confirm pay-abc") != keys[0] and press_key(77, "/cancel pay-abc") != keys[0]


async def test_an_expired_press_says_what_to_type_instead():
    engine = FakeEngine()
    front = DiscordFrontend(engine)
    i = FakeInteraction(message=FakeMessage(5, components=[button_row("Confirm")]))
    await front.press(i, Press("42", "/confirm pay-abc", int(time.time()) - 1))
    assert not engine.calls
    (hint,) = i.shown()
    assert i.message.buttons() == [] and "/confirm pay-abc" in hint.text and hint.private


async def test_two_presses_at_once_run_one_after_the_other():
    message = FakeMessage(3)
    press = Press("42", "/confirm pay-abc", int(time.time()) + 60)
    running: list[str] = []
    at_once: list[int] = []  # how many runs of the key were inside the engine as each one began

    class Slow(FakeEngine):
        async def handle_text(self, text, *, actor, key):
            # No assert in here: the front end turns an exception from the engine into an apology, which would hide it.
            running.append(key)
            at_once.append(running.count(key))
            await asyncio.sleep(0.02)  # the second press arrives meanwhile
            running.remove(key)
            return Reply.of("ok")

    front = DiscordFrontend(Slow())
    first, second = FakeInteraction(message=message), FakeInteraction(message=message)
    await asyncio.gather(front.press(first, press), front.press(second, press))
    assert at_once == [1, 1]
    assert first.log[-1][1] == second.log[-1][1] == "ok"


class FakeAttachment:
    def __init__(self, name: str, content: bytes) -> None:
        self.filename, self.content, self.size = name, content, len(content)
        self.reads = 0

    async def read(self) -> bytes:
        self.reads += 1
        return self.content


async def test_bulk_files_are_size_checked_before_download_then_handed_to_the_core():
    engine = FakeEngine(upload_reply=Reply.of("preview"))
    front = DiscordFrontend(engine, max_upload=10)
    big = FakeAttachment("big.csv", b"x" * 11)
    i = FakeInteraction()
    await front.bulk_file(i, big)
    (refused,) = i.shown()
    assert big.reads == 0 and "file:" in refused.text and "at most" in refused.text
    small = FakeAttachment("p.csv", b"a,1\n")
    j = FakeInteraction()
    await front.bulk_file(j, small)
    assert engine.uploads == [(b"a,1\n", "p.csv", "discord:42", f"dc-{j.id}")] and j.shown() == [Shown("preview", private=False)]


async def test_a_failing_core_entry_is_an_apology_not_silence():
    class Failing(FakeEngine):
        async def bulk_upload(self, *_):
            raise RuntimeError("boom")

    front = DiscordFrontend(Failing())
    i = FakeInteraction()
    await front.bulk_file(i, FakeAttachment("p.csv", b"a"))
    assert "something went wrong" in i.log[-1][1] and "boom" not in i.log[-1][1]


async def test_autocomplete_lists_the_askers_ids_matching_what_they_typed():
    payments = [("pay-aaaa2222", "pay-aaaa2222 · 1 CRO · confirmed"), ("pay-bbbb3333", "pay-bbbb3333 · 2 CRO · pending")]
    engine = FakeEngine(payments=payments)
    choices = await DiscordFrontend(engine).complete_ids(FakeInteraction(), "bbb")
    assert [c.value for c in choices] == ["pay-bbbb3333"] and engine.listed == [("payments", "discord:42", 25)]
    assert await DiscordFrontend(FakeEngine()).complete_ids(FakeInteraction(), "") == []


async def test_batch_autocomplete_asks_for_the_askers_own_batches_even_for_an_operator():
    batches = [("bulk-aaaa2222", "bulk-aaaa2222 · done · 3 rows · 1.5 CRO · a.csv"),
               ("bulk-bbbb3333", "bulk-bbbb3333 · preview · 2 rows · 4 CRO · b.csv")]  # fmt: skip
    engine = FakeEngine(operators=frozenset({"discord:7"}), payments=[("pay-cccc4444", "pay-cccc4444 · 1 CRO · confirmed")],
                        batches=batches)  # fmt: skip
    choices = await DiscordFrontend(engine).complete_batches(FakeInteraction(person(7, "olga")), "B.CSV")
    assert [c.value for c in choices] == ["bulk-bbbb3333"]
    assert engine.listed == [("batches", "discord:7", 25)]  # the asker's own, and a batch id is not a payment id
    assert await DiscordFrontend(FakeEngine()).complete_batches(FakeInteraction(), "") == []


def test_commands_have_typed_options_and_token_choices_from_the_registry():
    front = DiscordFrontend(FakeEngine())
    built = {c.name: c for c in commands.build(front, ["CRO", "USDC"])}
    assert {"pay", "bulk", "help", "status", "confirm", "cancel", "history", "link", "mix", "withdraw"} <= set(built)
    pay = {p.name: p for p in built["pay"].parameters}
    assert pay["amount"].type is discord.AppCommandOptionType.string
    assert [c.value for c in pay["token"].choices] == ["CRO", "USDC"]
    bulk = {p.name: p for p in built["bulk"].parameters}
    assert bulk["file"].type is discord.AppCommandOptionType.attachment
    assert {p.name: p for p in built["status"].parameters}["id"].autocomplete
    assert bulk["batch"].autocomplete and [c.value for c in bulk["action"].choices][1:] == ["execute", "status", "cancel", "retry"]
    assert commands.text("history", None) == "/history" and commands.text("link", "", "0xsig") == "/link 0xsig"
    assert commands.text("pay", "0xabc", "1 000", "CRO") == "/pay 0xabc 1\u2423000 CRO"  # still three words
    assert commands.text("pay", "0xabc", 0.5) == "/pay 0xabc 0.5"  # a number sent for a text option


def test_custom_ids_fit_discord_and_the_template():
    import re

    from adapters.discord.buttons import CUSTOM_ID

    cid = custom_id(2**63, int(time.time()) + 600, "/bulk execute batch-abcdefgh")
    assert len(cid) <= 100 and re.fullmatch(CUSTOM_ID, cid)


async def test_a_button_whose_command_cannot_be_a_custom_id_is_left_out_not_a_crash():
    reply = Reply.of("pick", buttons=(Button("Odd", "/pay 0xabc 1 CRO extra words"), Button("Ok", "/status pay-abc")))
    i = FakeInteraction()
    await DiscordFrontend(FakeEngine(reply)).command(i, "/x")
    assert [b.item.label for b in i.log[0][2]["view"].children] == ["Ok"]


async def test_an_interaction_answered_before_a_restart_is_not_answered_again():
    from types import SimpleNamespace

    engine = FakeEngine(Reply.of("Already handled this message"))
    front = DiscordFrontend(engine)
    i = FakeInteraction()

    async def already(*_a, **_k):
        raise discord.HTTPException(SimpleNamespace(status=400, reason="Bad Request"), {"code": 40060, "message": "acknowledged"})

    i.response.send_message = already
    await front.command(i, "/pay x 1")
    assert len(engine.calls) == 1  # the work ran (and replayed); no second answer, no error
    other = FakeInteraction()

    async def broken(*_a, **_k):
        raise discord.HTTPException(SimpleNamespace(status=400, reason="Bad Request"), {"code": 50035, "message": "invalid"})

    other.response.send_message = broken
    try:
        await front.command(other, "/help")
    except discord.HTTPException as e:
        assert e.code == 50035
    else:
        raise AssertionError("other API errors are not swallowed")


NOTE = "snowrail-cro-0.1-25-0x" + "cd34" * 31


async def test_a_pasted_note_is_deleted_and_its_author_warned_without_repeating_it(caplog):
    engine = FakeEngine()
    front = DiscordFrontend(engine)
    msg = PastedMessage(f"my note {NOTE}")
    assert await front.pasted_secret(msg) and msg.deleted
    # reported for the admins' alert: who, which message, where, what kind; never the note
    assert engine.alerts == [("secret", "discord:42", "dc-msg-9001", "#general on Treasury @everyone", "mixer note", "deleted")]
    ((text, kw),) = msg.dms
    assert "mixer note" in text and "I deleted it" in text and "/withdraw" in text and "cd34cd34" not in text
    assert "@everyone" not in text and kw["allowed_mentions"] == NO_MENTIONS  # the server name is escaped too


async def test_a_key_that_cannot_be_deleted_gets_a_warning_that_says_so(caplog):
    caplog.set_level("DEBUG")
    front = DiscordFrontend(FakeEngine())
    msg = PastedMessage("a" * 64, refusal=50013)
    assert await front.pasted_secret(msg) and not msg.deleted
    ((text, _),) = msg.dms
    assert "private key" in text and "could not delete it" in text and "Move your funds" in text
    closed = PastedMessage("a" * 64, dms_closed=True)
    assert await front.pasted_secret(closed) and closed.deleted  # DMs closed: the deletion still stands
    assert [a[-2:] for a in front.engine.alerts] == [("private key", "refused"), ("private key", "deleted")]
    assert "aaaaaaaa" not in caplog.text


async def test_direct_messages_bots_and_plain_text_are_not_touched():
    front = DiscordFrontend(FakeEngine())
    for msg in (PastedMessage(NOTE, guild=False), PastedMessage(NOTE, bot=True), PastedMessage("paid 0x" + "1f" * 32)):
        assert not await front.pasted_secret(msg) and not msg.deleted and not msg.dms
    assert not front.engine.alerts
