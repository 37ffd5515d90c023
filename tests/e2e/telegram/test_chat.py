"""Whole Telegram conversations: the real PTB Application polling a fake Bot API, on the embedded default."""

from __future__ import annotations

import re

import pytest

from adapters.telegram.frontend import NOT_YOURS, STALE
from tests.e2e.telegram.conftest import MEMBER, OPERATOR, STRANGER
from tests.e2e.telegram.fake_bot_api import Failure, Person, group

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
TX = re.compile(r"0x[0-9a-f]{64}")
KNOWN_TAGS = re.compile(r"</?([a-z]+)")
GROUP = group(-1009001, "Payroll <team> & co")
# PTB's own rate limiter reads RetryAfter.retry_after, which warns about its future type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after:DeprecationWarning")


def assert_clean_html(text: str) -> None:
    """Only tags Telegram knows, and never a traceback."""
    assert set(KNOWN_TAGS.findall(text)) <= {"b", "code", "a", "i", "pre"}, text
    assert "Traceback" not in text


async def answer_to(api, query_update) -> dict:
    qid = query_update["callback_query"]["id"]
    call = await api.wait_for(lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == qid)
    return call.params


async def test_every_command_answers_in_a_private_chat(api, telegram):
    texts = [
        "/start", "/start ref_42", "/help", "/help pay", "/wallet", "/balance", "/history", "/history 0",
        f"/pay {RECIPIENT} 0.5", "/status pay-nothere", "/confirm pay-nothere", "/cancel pay-nothere",
        "/link 0x1234", "/bulk status b-1", "/mix 0.1", "/withdraw", "/deposit pay-x", "/frobnicate", "hello",
    ]
    replies = {t: await api.ask(OPERATOR, OPERATOR.dm, t) for t in texts}
    for t, call in replies.items():
        assert call.text.strip(), t
        assert call.params["parse_mode"] == "HTML"
        assert_clean_html(call.text)
    assert "Olga" in replies["/start"].text
    assert "/pay" in replies["/help"].text and "Usage" in replies["/help pay"].text
    assert "&lt;address" in replies["/help pay"].text
    assert "Treasury" in replies["/wallet"].text
    assert TX.search(replies[f"/pay {RECIPIENT} 0.5"].text)
    assert "id:" in replies["/status pay-nothere"].text
    assert "address:" in replies["/link 0x1234"].text
    assert "Your note for" in replies["/mix 0.1"].text  # the zero-setup default has a 0.1 CRO pool
    assert "/help" in replies["/frobnicate"].text and "/help" in replies["hello"].text


async def test_pay_shows_the_full_tx_hash_and_history_has_it(api, telegram):
    paid = await api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 1.25 CRO")
    tx = TX.search(paid.text).group(0)
    assert "confirmed" in paid.text and "1.25 CRO" in paid.text
    assert f"0x5aAe…eAed <code>{RECIPIENT[:2]}" in paid.text  # short, then the full address to copy
    history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
    assert tx in history.text


async def test_confirmation_buttons_pressed_by_a_stranger_then_the_owner(api, telegram):
    api.started.add(STRANGER.id)
    asked = await api.ask(OPERATOR, GROUP, f"/pay {RECIPIENT} 150")
    labels = [b["text"] for b in asked.buttons()]
    assert any(w in labels[0] for w in ("Confirm", "Pay", "Execute")) and "Cancel" in labels
    assert not TX.search(asked.text)

    stranger = await api.press(STRANGER, asked, "Confirm")
    assert (await answer_to(api, stranger))["text"] == NOT_YOURS

    before = len(api.calls)
    pressed = await api.press(OPERATOR, asked, "Confirm")
    assert (await answer_to(api, pressed)).get("show_alert") in (None, False)
    edited = await api.wait_for(lambda c: c.method == "editMessageText" and c.params["message_id"] == asked.result["message_id"], after=before)
    tx = TX.search(edited.text).group(0)
    assert "confirmed" in edited.text

    # The same press delivered again, and a double tap, never pay twice.
    before = len(api.calls)
    await api.redeliver(pressed)
    again = await api.press(OPERATOR, asked, "Confirm")
    await answer_to(api, again)
    second = await api.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == asked.result["message_id"], after=before
    )
    assert TX.search(second.text).group(0) == tx
    history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
    assert history.text.count(tx) == 1


async def test_cancel_button_and_forged_button_data(api, telegram):
    asked = await api.ask(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 200")
    forged = await api.press_data(OPERATOR, asked, f"{OPERATOR.id}|AAAAAAAAAAA|/confirm {asked.text.split('pay-')[1][:8]}")
    assert (await answer_to(api, forged))["text"] == STALE
    before = len(api.calls)
    await api.press(OPERATOR, asked, "Cancel")
    # This message's edit only: an earlier test's late edit of its own message must not be taken for it.
    edited = await api.wait_for(
        lambda c: c.method == "editMessageText" and c.params["message_id"] == asked.result["message_id"], after=before
    )
    assert "Cancelled" in edited.text and not edited.buttons()


async def test_a_members_pay_opens_an_intent_they_fund_and_never_spends_the_treasury(api, telegram):
    treasury = telegram.core.chain.treasury
    before = await telegram.core.chain.balance(treasury, telegram.core.chain.tokens.native)
    dm = await api.ask(MEMBER, MEMBER.dm, f"/pay {RECIPIENT} 1")
    assert "Intent int-" in dm.text and "fundIntent" in dm.text and "Payment pay-" not in dm.text
    in_group = await api.ask(MEMBER, GROUP, f"/pay {RECIPIENT} 1")
    assert "fundIntent" not in in_group.text  # its funding link goes to the member privately, never to the group
    assert await telegram.core.chain.balance(treasury, telegram.core.chain.tokens.native) == before


async def test_errors_name_their_field_and_offer_no_button(api, telegram):
    for text, field in [
        ("/pay 0x1234 1", "address"),
        (f"/pay {RECIPIENT} 1e18", "amount"),
        (f"/pay {RECIPIENT} 1 DOGE", "token"),
        (f"/pay {RECIPIENT} 1000000000", "balance"),
    ]:
        call = await api.ask(OPERATOR, OPERATOR.dm, text)
        assert f"{field}:" in call.text, call.text
        assert not call.buttons()


async def test_html_in_arguments_and_names_is_escaped(api, telegram):
    call = await api.ask(OPERATOR, OPERATOR.dm, "/pay <b>x</b> 1")
    assert "&lt;b&gt;x&lt;/b&gt;" in call.text and "<b>x</b>" not in call.text
    assert_clean_html(call.text)
    odd = Person(4004, "<script>alert(1)</script>", "odd")
    note = await api.ask(odd, GROUP, "/link " + RECIPIENT)  # odd never started the bot: the note names them
    assert "&lt;script&gt;" in note.text and "<script>" not in note.text


async def test_a_redelivered_update_never_acts_twice(api, telegram):
    update = await api.say(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.75")
    first = await api.reply_to(update)
    tx = TX.search(first.text).group(0)
    before = len(api.calls)
    await api.redeliver(update)
    second = await api.reply_to(update, after=before)
    assert "Already handled" in second.text and tx in second.text
    history = await api.ask(OPERATOR, OPERATOR.dm, "/history 50")
    assert history.text.count(tx) == 1


async def test_group_commands_and_private_output(api, telegram):
    mine = await api.ask(MEMBER, GROUP, f"/help@{api.username}")
    assert "/pay" in mine.text
    before = len(api.calls)
    await api.say(MEMBER, GROUP, "/help@some_other_bot")
    await api.say(MEMBER, GROUP, "just chatting")
    marker = await api.ask(MEMBER, GROUP, "/help pay")  # answered in order: the two above got nothing
    assert [c for c in api.calls[before:] if c.method == "sendMessage"] == [marker]

    # A link challenge is private: it goes to the DM, the group only hears that it was sent.
    note = await api.ask(MEMBER, GROUP, f"/link {RECIPIENT}")
    assert "private chat" in note.text and "sign this" not in note.text.lower()
    dm = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and "SnowRail wallet link" in c.text)
    assert "Nonce" in dm.text

    # Someone who never started the bot gets a deep link, and the answer once they follow it.
    newcomer = Person(5005, "Nina", "nina")
    note = await api.ask(newcomer, GROUP, f"/link {RECIPIENT}")
    url = note.buttons()[0]["url"]
    assert url.startswith(f"https://t.me/{api.username}?start=")
    assert not api.sent_to(newcomer.id)
    api.started.add(newcomer.id)
    await api.ask(newcomer, newcomer.dm, "/start " + url.split("start=")[1])
    held = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == newcomer.id and "SnowRail wallet link" in c.text)
    assert "Nonce" in held.text


async def test_secrets_pasted_in_a_group_are_deleted_and_the_user_warned(api, telegram):
    update = await api.say(MEMBER, GROUP, "here is my key " + "ab" * 32)
    mid = update["message"]["message_id"]
    await api.wait_for(lambda c: c.method == "deleteMessage" and c.params["message_id"] == mid)
    warn = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and "private key" in c.text)
    assert "I deleted it" in warn.text

    locked = group(-1009002, "No rights here")
    api.no_delete.add(locked["id"])
    await api.say(MEMBER, locked, "/withdraw snowrail-cro-0.1-1-0x" + "cd" * 31)
    warn = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == MEMBER.id and "mixer note" in c.text)
    assert "could not delete" in warn.text
    assert not api.sent_to(locked["id"])  # nothing about it in the group


async def test_a_429_does_not_lose_the_reply(api, telegram):
    api.failures.append(Failure("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                                when=lambda p: int(p.get("chat_id", 0)) == OPERATOR.id))
    reply = await api.ask(OPERATOR, OPERATOR.dm, "/wallet")
    assert "Treasury" in reply.text
    limited = [c for c in api.calls if c.status == 429]
    assert limited and reply.at - limited[-1].at >= 0.9


async def test_a_bulk_file_over_the_limit_is_refused_before_downloading(api, telegram):
    too_big = await api.upload(OPERATOR, OPERATOR.dm, "huge.csv", b"x", size=6_000_000)
    refused = await api.reply_to(too_big)
    assert "file:" in refused.text and "5.0 MB" in refused.text and not refused.buttons()
    assert not [c for c in api.calls if c.method == "getFile" and c.params.get("file_id") == too_big["message"]["document"]["file_id"]]


@pytest.mark.parametrize("command", ["/pay", "/bulk"])
async def test_menu_is_registered(api, telegram, command):
    call = await api.wait_for(lambda c: c.method == "setMyCommands")
    names = {c["command"] for c in call.params["commands"]}
    assert command.lstrip("/") in names


async def test_markup_refused_by_telegram_falls_back_to_plain_text(api, telegram):
    api.failures.append(Failure("sendMessage", 400, "Bad Request: can't parse entities: unsupported start tag",
                                when=lambda p: int(p.get("chat_id", 0)) == MEMBER.id and p.get("parse_mode") == "HTML"))
    reply = await api.ask(MEMBER, MEMBER.dm, "/help pay")
    assert "parse_mode" not in reply.params and "/pay <address" in reply.text


async def test_messages_of_one_chat_are_answered_in_order(api, telegram):
    pay = await api.say(OPERATOR, OPERATOR.dm, f"/pay {RECIPIENT} 0.2")
    history = await api.say(OPERATOR, OPERATOR.dm, "/history 1")  # sent before the payment is answered
    paid, listed = await api.reply_to(pay), await api.reply_to(history)
    assert paid.at < listed.at
    assert TX.search(paid.text).group(0) in listed.text
