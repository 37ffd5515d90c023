"""The translation layer on its own: rendering, escaping, button data, keys, secret spotting, send limits."""

from __future__ import annotations

import pytest

from adapters.telegram.buttons import BadCallback, CallbackCodec, keyboard
from adapters.telegram.frontend import addressed_elsewhere
from adapters.telegram.identity import message_key, press_key, user_ref_chat_id
from adapters.telegram.limits import SendLimiter
from adapters.telegram.render import chunks, to_html
from core.guard import secret_in
from core.replies import Button, Reply, Span, bold, code, link

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_user_text_is_escaped_in_every_kind_of_span():
    reply = Reply.of(
        ("<b>x</b> & ", bold("<i>"), code("</code><script>"), link("<a>", "https://e.test/?a=1&b=<2>")),
        "/pay <address> <amount> [token]",
    )
    html = to_html(reply)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt; &amp; " in html
    assert "<b>&lt;i&gt;</b>" in html
    assert "<code>&lt;/code&gt;&lt;script&gt;</code>" in html
    assert '<a href="https://e.test/?a=1&amp;b=&lt;2&gt;">&lt;a&gt;</a>' in html
    assert "/pay &lt;address&gt; &lt;amount&gt; [token]" in html


def test_links_other_than_http_are_shown_as_text():
    assert to_html(Reply.of(link("click", "javascript:alert(1)"))) == "click"


def test_addresses_are_short_with_the_full_value_copyable():
    html = to_html(Reply.of(("To: ", code(ADDRESS))))
    assert html == f"To: 0x5aAe…eAed <code>{ADDRESS}</code>"
    tx = "0x" + "ab" * 32
    assert to_html(Reply.of(code(tx))) == f"<code>{tx}</code>"  # tx hashes stay whole


def test_long_replies_split_at_line_boundaries_without_breaking_tags():
    reply = Reply.of(*[(bold(f"line {i}"), " " + "x" * 90) for i in range(200)])
    parts = chunks(reply)
    assert len(parts) > 1
    for part in parts:
        assert part.count("<b>") == part.count("</b>")
        assert len(part) < 4096 + 200 * 7  # visible text under the limit; tags come on top
    huge = chunks(Reply.of("y" * 10_000))
    assert "".join(huge) == "y" * 10_000 and all(len(p) <= 4096 for p in huge)


def test_keyboard_has_signed_command_buttons_and_url_buttons():
    codec = CallbackCodec(b"k")
    reply = Reply.of("x", buttons=(
        Button("Confirm payment", "/confirm pay-abcdefgh", "primary"),
        Button("Cancel", "/cancel pay-abcdefgh", "danger"),
        Button("View on explorer", url="https://explorer.test/tx/0x1"),
    ))
    markup = keyboard(reply, codec, 77)
    rows = markup.inline_keyboard
    assert [b.text for b in rows[0]] == ["Confirm payment", "Cancel"]
    assert rows[1][0].url == "https://explorer.test/tx/0x1"
    press = codec.unpack(rows[0][0].callback_data)
    assert (press.owner_id, press.command) == ("77", "/confirm pay-abcdefgh")
    assert keyboard(Reply.of("no buttons"), codec, 1) is None


def test_forged_or_foreign_callback_data_is_refused():
    codec = CallbackCodec(b"k")
    data = codec.pack("/confirm pay-abcdefgh", 77)
    assert len(data.encode()) <= 64
    owner, mac, command = data.split("|", 2)
    with pytest.raises(BadCallback):
        codec.unpack(f"{owner}|{mac}|/confirm pay-zzzzzzzz")  # another command under the same MAC
    with pytest.raises(BadCallback):
        codec.unpack(f"99|{mac}|{command}")  # someone else's button claimed as theirs
    with pytest.raises(BadCallback):
        CallbackCodec(b"other bot").unpack(data)
    for junk in ("", None, "garbage", "~unknown"):
        with pytest.raises(BadCallback):
            codec.unpack(junk)


def test_long_commands_are_held_in_memory_and_go_stale_on_restart():
    codec = CallbackCodec(b"k")
    data = codec.pack("/bulk execute " + "b" * 60, 5)
    assert data.startswith("~") and len(data) <= 64
    assert codec.unpack(data).command.endswith("b" * 60)
    with pytest.raises(BadCallback):
        CallbackCodec(b"k").unpack(data)


def test_keys_and_refs():
    assert message_key(7, -100123, 45) == "tg-7--100123-45"
    assert press_key(7, -100123, 46, "/confirm pay-abcdefgh") == "tg-7--100123-46-confirm"
    assert press_key(7, -100123, 46, "/bulk execute b-1", 1790000000) == "tg-7--100123-46-bulk-e1790000000"
    assert user_ref_chat_id("telegram:1001") == 1001
    with pytest.raises(ValueError):
        user_ref_chat_id("discord:1001")
    assert addressed_elsewhere("/pay@OtherBot 0x 1", "snowrail_bot")
    assert not addressed_elsewhere("/pay@SnowRail_Bot 0x 1", "snowrail_bot")
    assert not addressed_elsewhere("/pay 0x 1", "snowrail_bot")


def test_low_telegram_keys_include_bot_id():
    """A private chat's id is the user's id and message ids count per chat, so two bots on one database see the
    same (chat, message) pairs: only the bot's id keeps their idempotency keys apart."""
    assert message_key(4242, 1001, 1) != message_key(777, 1001, 1)
    assert message_key(4242, 1001, 1).startswith("tg-4242-")
    assert press_key(4242, 1001, 5, "/confirm pay-abcdefgh") != press_key(777, 1001, 5, "/confirm pay-abcdefgh")
    assert press_key(4242, 1001, 5, "/confirm pay-abcdefgh", 1790000000).startswith("tg-4242-")


@pytest.mark.parametrize(
    "text, found",
    [
        ("my key is " + "a1" * 32, "private key"),
        ("private key: 0x" + "b2" * 32, "private key"),
        ("/status 0x" + "c3" * 32, None),  # a tx hash is not a secret
        ("tx 0x" + "d4" * 32 + " went through", None),
        ("snowrail-cro-0.1-31337-0x" + "e5" * 62, "mixer note"),
        ("/withdraw sometoken 0x" + "00" * 20, "mixer note"),
        ("/pay 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed 1", None),
        ("", None),
    ],
)
def test_secrets_pasted_in_groups_are_spotted(text, found):
    assert secret_in(text) == found


def test_send_limiter_spaces_chats_and_overall():
    now = [100.0]
    limiter = SendLimiter(per_chat=1.0, overall=30, clock=lambda: now[0])
    assert limiter.reserve(1) == 100.0
    assert limiter.reserve(1) == pytest.approx(101.0)  # same chat: a second later
    assert limiter.reserve(2) == pytest.approx(100.0 + 1 / 30)  # another chat: only the overall spacing
    slots = sorted(limiter.reserve(1000 + i) for i in range(60))
    assert all(b - a >= 1 / 30 - 1e-9 for a, b in zip(slots, slots[1:]))  # about 30 a second overall
    assert slots[-1] - slots[0] < 62 / 30
    limiter.push_back(3, 5.0)
    assert limiter.reserve(3) >= 105.0


def test_plain_text_fallback_keeps_the_words():
    from adapters.telegram.render import html_to_text

    html = to_html(Reply.of(("Pay ", bold("<1 & 2>"), " to ", code(ADDRESS))))
    assert html_to_text(html) == f"Pay <1 & 2> to 0x5aAe…eAed {ADDRESS}"


def test_logs_never_carry_the_token_or_a_pasted_secret():
    import logging

    from bot.redaction import RedactSecrets

    note = "snowrail-cro-0.1-31337-0x" + "e5" * 62
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s/getUpdates body=%s tx=%s", (
        "https://api.telegram.org/bot123:SECRET-token", f"key {'ab' * 32} note {note}", "0x" + "cd" * 32), None)
    RedactSecrets("123:SECRET-token").filter(record)
    line = record.getMessage()
    assert "SECRET" not in line and "ab" * 32 not in line and note not in line
    assert "0x" + "cd" * 32 in line  # tx hashes stay readable
