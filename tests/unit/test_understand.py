"""Plain-language requests: each refusal names its part, nothing is guessed, and chat only ever previews."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from dateutil.rrule import rrulestr

from core.commands import Actor
from core.engine import Engine
from core.money import Token, TokenRegistry
from core.services import Policy
from core.understand import understand
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

TOKENS = TokenRegistry([Token("CRO", 18, native=True), Token("USDC", 6, "0x" + "05" * 20)])
NOW = datetime.fromisoformat("2026-11-29T15:00:00+00:00")  # a Sunday, 16:00 in Berlin
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def read(text: str, tz: str = "Europe/Berlin"):
    return understand(text, tokens=TOKENS, now=NOW, tz=tz)


def asks(text: str, *words: str) -> str:
    got = read(text)
    assert got.action is None and got.command is None and got.ask, got
    for w in words:
        assert w.lower() in got.ask.lower(), got.ask
    return got.ask


def test_issue_examples() -> None:
    pay = read("send 25 usdc to @bob tomorrow at 9")
    assert (pay.action, pay.recipient, pay.amount, pay.token) == ("pay", "@bob", "25", "USDC")
    assert pay.at == "2026-11-30T09:00:00+01:00" and pay.every is None
    assert pay.command == "/pay @bob 25 USDC at 2026-11-30 09:00"
    weekly = read("pay alice 0.5 cro every friday")
    assert (weekly.recipient, weekly.amount, weekly.token, weekly.every) == ("alice", "0.5", "CRO", "FREQ=WEEKLY;BYDAY=FR")
    assert weekly.at == "2026-12-04T09:00:00+01:00"
    assert read("what did I pay last week").command == "/history"
    assert read("cancel my payroll schedule").as_json()["action"] == "schedule_cancel"


def test_issue_command_syntax_for_schedules() -> None:
    assert read("pay @bob 100 usdc every month on the 1st at 09:00").command == \
        "/pay @bob 100 USDC every month on the 1st at 09:00"
    assert read("pay @bob 10 usdc on 2026-12-01 at 9").command == "/pay @bob 10 USDC at 2026-12-01 09:00"


def test_the_rrule_is_valid_rfc5545_and_gives_back_the_first_time() -> None:
    got = read("pay @bob 100 usdc every month on the 1st until 2027-06-30")
    assert got.every == "FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20270630T215959Z"
    assert got.at is not None
    first = datetime.fromisoformat(got.at)
    dates = list(rrulestr(got.every, dtstart=first))
    assert dates[0] == first and len(dates) == 7 and dates[-1].month == 6
    six = read("pay @bob 5 usdc every 2 weeks 6 times")
    assert six.every == "FREQ=WEEKLY;INTERVAL=2;COUNT=6" and six.command.endswith("every 2 weeks at 09:00 times 6")


def test_wall_clock_time_is_kept_across_daylight_saving() -> None:
    got = read("pay @bob 5 usdc every day at 9 until 2027-04-02")
    start = datetime.fromisoformat(got.at).replace(tzinfo=ZoneInfo("Europe/Berlin"))  # the offset says +01:00 only
    times = list(rrulestr(got.every, dtstart=start))
    assert {t.hour for t in times} == {9} and {t.utcoffset().total_seconds() for t in times} == {3600, 7200}


def test_deterministic_with_now_and_zone() -> None:
    assert read("pay @bob 5 usdc tomorrow at 9", "UTC").at == "2026-11-30T09:00:00+00:00"
    assert read("pay @bob 5 usdc tomorrow at 9", "Asia/Tokyo").at == "2026-12-01T09:00:00+09:00"  # already the 30th there
    assert read("pay @bob 5 usdc in 2 hours").at == "2026-11-29T18:00:00+01:00"


def test_a_past_date_is_refused() -> None:
    asks("pay @bob 5 usdc on 2025-03-01", "past")
    asks("pay @bob 5 usdc yesterday", "past")
    asks("pay @bob 5 usdc every friday starting 2026-01-02", "past")


def test_feb_30_is_refused() -> None:
    asks("pay @bob 5 usdc on feb 30", "no 30 february")
    asks("pay @bob 5 usdc on 2027-02-30", "no 30 february 2027")


def test_every_0_days_is_refused() -> None:
    asks("pay @bob 5 usdc every 0 days", "every", "at least 1")


def test_until_before_the_start_is_refused() -> None:
    asks("pay @bob 5 usdc every month on the 1st until 2026-11-30", "until", "before the first payment")


def test_two_amounts_are_asked_about() -> None:
    asks("pay @bob 5 usdc and 10 usdc", "amount", "5, 10")
    asks("send @bob 10 or 20 usdc", "amount")


def test_never_guesses_amount_token_or_recipient() -> None:
    asks("pay @bob 25", "token", "CRO, USDC")  # the slash command would take the native coin: plain words must not
    asks("send 25 dollars to @bob", "token", "dollars")
    asks("send $25 to @bob", "token", "$")
    asks("pay @bob 5 usdt", "token", "usdt")  # one letter from USDC, but another token: never repaired
    asks("pay 25 usdc", "recipient")
    asks("pay @bob and @carol 5 usdc", "recipient")
    asks("send 5 usdc to my friend", "recipient", "my friend")
    asks("pay @bob usdc", "amount")
    asks("don't pay @bob 5 usdc", "not sure")


def test_typos_and_word_order() -> None:
    for text in ("sned 5 usdcc to @bob", "@bob 5 usdc", "5 usdc to @bob", "give @bob 5 uscd", "pay to @bob 5 USDC"):
        got = read(text)
        assert (got.action, got.recipient, got.amount, got.token) == ("pay", "@bob", "5", "USDC"), text
    assert read(f"pay {ADDR.lower()} 1.5k usdc").amount == "1500"
    asks(f"pay {ADDR[:-1]}F 1 usdc", "recipient", "checksum")


def test_amount_precision_is_checked_against_the_token() -> None:
    asks("pay @bob 0.0000001 usdc", "USDC")


def test_a_slash_command_or_nonsense_is_a_question() -> None:
    asks("/pay @bob 5 USDC", "slash command")
    asks("the weather is nice", "did not understand")


OP = Actor("telegram", "1", "Tess", "tess")


@pytest.fixture
def engine():
    return Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), queue=RecordingQueue(),
                  policy=Policy(operators=frozenset({OP.ref})))


async def test_chat_previews_with_confirm_and_cancel_and_pays_nothing(engine) -> None:
    chain = engine.chain
    reply = await engine.handle_text(f"please send 1.5 cro to {ADDR}", actor=OP, key="tg-1-1")
    assert f"/pay {ADDR} 1.5 CRO" in reply.plain() and "Confirm" in reply.plain()
    assert [(b.label, b.command) for b in reply.buttons] == [("Confirm", f"/pay {ADDR} 1.5 CRO"), ("Cancel", "cancel")]
    assert not chain.signed
    paid = await engine.handle_text(reply.buttons[0].command, actor=OP, key="tg-1-2")
    assert paid.kind == "ok" and len(chain.signed) == 1
    assert "nothing was done" in (await engine.handle_text("cancel", actor=OP, key="tg-1-3")).plain()


async def test_chat_asks_when_unsure_and_previews_a_schedule_without_paying(engine) -> None:
    ask = await engine.handle_text("send 5 dollars to @bob", actor=OP, key="tg-1-4")
    assert "dollars" in ask.plain() and not ask.buttons
    later = await engine.handle_text(f"pay {ADDR} 2 usdc every friday", actor=OP, key="tg-1-5")
    assert "every friday at 09:00" in later.plain() and [b.label for b in later.buttons] == ["Confirm", "Cancel"]
    assert not engine.chain.signed


def test_sentences_that_look_like_payments_but_are_not_sure_ask() -> None:
    asks("pay @bob -5 usdc", "amount", "negative")
    asks("send 5 usdc to alice and bob", "recipient", "alice and bob")
    asks("pay @bob 5 usdc at 5", "5 am or 5 pm")
    asks("pay @bob 5 usdc tonight", "what time tonight")
    asks("pay @bob 1e3 usdc", "amount", "1e3")
    asks("pay @bob 10 usdc twice", "repeat")


_VOCAB = ("pay send to @bob alice 0x742d35Cc6634C0532925a3b844Bc454e4438f44e 5 0.5 1.5k 1,000 99999999999999999999 usdc "
          "cro every 0 2 day weeks month on the 1st 32nd friday next tomorrow at 9 5pm 25:00 until 2027-06-30 9999-12-31 "
          "in 99999999 days times 6 twice cancel schedule payroll run history $ dollars - / , feb 30 tonight "
          "pay-abc234de sch-abc123 1e5 and or").split()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=12))
def test_any_sentence_is_answered_and_a_payment_names_only_what_was_written(words: list[str]) -> None:
    text = " ".join(words)
    got = read(text)
    assert (got.action is None) == (got.ask is not None)
    if got.action == "pay":
        assert got.recipient in words and got.amount and got.token and got.token.lower() in text.lower()
        assert sum(w[0].isdigit() and not w.startswith(("2027", "9999")) for w in words) >= 1
