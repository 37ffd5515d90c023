"""The parser: every command, and bad input that must name its problem."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.addresses import parse_address, to_checksum
from core.commands import Actor, Bulk, Help, History, Link, Pay, Status, Wallet
from core.errors import UsageError
from core.parsing import parse

A = Actor("telegram", "42", "Ada", "ada")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def p(text):
    return parse(text, actor=A, key="k1")


def test_pay_with_every_spelling():
    for text in [
        f"/pay {ADDR} 25 USDC",
        f"/PAY {ADDR.lower()} 25 usdc",
        f"/pay@SnowRailBot   {ADDR.upper().replace('0X', '0x')}   25   Usdc  ",
    ]:
        cmd = p(text)
        assert isinstance(cmd, Pay)
        assert cmd.recipient.address == ADDR
        assert cmd.amount.units == 25_000_000 and cmd.amount.token.symbol == "USDC"
        assert cmd.actor == A and cmd.key == "k1"


def test_pay_defaults_to_cro_and_takes_handles_and_mentions():
    assert p(f"/pay {ADDR} 0.5").amount.units == 5 * 10**17
    assert p("/pay @Bob 1").recipient.handle == "bob"
    # A mention reaches the core as the user ref the Discord adapter makes of it; no platform's syntax is read here.
    assert p("/pay discord:123456 1").recipient.user_ref == "discord:123456"
    with pytest.raises(UsageError, match="address:"):
        p("/pay <@!123456> 1")


@pytest.mark.parametrize(
    "text,field,fragment",
    [
        (f"/pay {ADDR[:-2]} 1", "address", "38 hex digits"),
        (f"/pay {ADDR[:-1]}z 1", "address", "not hex"),
        (f"/pay {ADDR[:3] + 'A' + ADDR[4:]} 1", "address", "checksum"),
        ("/pay 0x0000000000000000000000000000000000000000 1", "address", "zero address"),
        (f"/pay {ADDR} 1 DOGE", "token", "CRO, WCRO, USDC, USDT"),
        (f"/pay {ADDR} 1e3", "amount", "exponent"),
        (f"/pay {ADDR} -3", "amount", "positive"),
        (f"/pay {ADDR} 0.0000001 USDC", "decimals", "6 decimals"),
        (f"/pay {ADDR} {'9' * 90}", "amount", "too large"),
        ("/pay <b>bold</b> 1", "address", "neither an address"),
        ("/pay", "address", "missing"),
        (f"/pay {ADDR}", "amount", "amount is missing"),
    ],
)
def test_pay_errors_name_the_field_and_show_usage(text, field, fragment):
    with pytest.raises(UsageError) as e:
        p(text)
    assert e.value.field == field, e.value.message
    assert fragment in e.value.message
    assert "Usage: /pay" in e.value.message


def test_other_commands():
    assert isinstance(p("/wallet"), Wallet)
    assert p("/history").limit == 10 and p("/history 3").limit == 3
    assert isinstance(p("/status pay-abc"), Status)
    assert p("/help pay") == Help(A, "k1", "pay")
    assert p("/bulk status b-1") == Bulk(A, "k1", "status", batch_id="b-1")
    assert p(f"/link {ADDR.lower()}") == Link(A, "k1", address=ADDR)
    assert p("/link 0x" + "ab" * 65).signature == "0x" + "ab" * 65
    assert isinstance(p("/History"), History)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("hello", "start with /"),
        ("/frobnicate", "/help"),
        ("/history 0", "1 to 50"),
        ("/history x", "1 to 50"),
        ("/help nope", "no command"),
        ("/bulk launch", "upload, preview"),
        ("/status '; DROP TABLE intents; --", "Usage: /status"),
        ("/wallet now", "no arguments"),
        ("", "empty"),
    ],
)
def test_bad_input(text, fragment):
    with pytest.raises(UsageError) as e:
        p(text)
    assert fragment in e.value.message


def test_eip55_reference_vectors():
    for good in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ]:
        assert to_checksum(good.lower()) == good
        assert parse_address(good) == good


@settings(max_examples=400)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises_anything_but_usage_error(text):
    for t in (text, "/" + text, "/pay " + text, "/link " + text, "/bulk " + text):
        try:
            p(t)
        except UsageError:
            pass
