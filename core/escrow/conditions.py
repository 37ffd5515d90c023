"""The condition and expiry of an intent, read from what follows the amount of a /pay: by hand, a time, a price."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.errors import UserError
from core.escrow.model import Condition
from core.pricealerts import known_pair, parse_price, show_price
from core.pricewords import pair_of
from core.prices import PriceFeed
from core.schedules.handlers import read_when

RECURRING_REFUSAL = "when: recurring payments come from the treasury: ask an operator. An intent pays once."
_UNTIL = re.compile(r"\buntil\b", re.IGNORECASE)
# "at 2026-12-01 09:00": core.understand reads "2026-12-01 09:00" and "at 09:00", but not "at" before a date.
_AT_DATE = re.compile(r"^(?:at|on)\s+(?=\d{4}-\d)", re.IGNORECASE)
_PRICE = re.compile(r"^when\s+(\S+)\s+(above|over|below|under)\s+(\S+)(?:\s+(\S+))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Terms:
    """What an intent waits for, and until when it may be funded and released."""

    condition: Condition
    expires_at: datetime  # aware UTC
    due_at: datetime | None = None  # TIME, aware UTC
    pair: str | None = None  # PRICE
    above: bool | None = None
    threshold: int | None = None  # scaled to the feed's decimals
    price_decimals: int | None = None
    phrase: str = ""  # the condition as the reply repeats it


def read_terms(when: str | None, *, now: datetime, zone: ZoneInfo, prices: PriceFeed | None,
               default_expiry: datetime) -> Terms:
    """UserError naming the field and the problem for anything an intent cannot wait for: a recurrence, a past
    time, an unknown pair, a price with more decimals than its feed, an expiry before the due time."""
    text = " ".join((when or "").split())
    condition_text, expiry_text = text, ""
    if m := _UNTIL.search(text):
        condition_text, expiry_text = text[: m.start()].strip(), text[m.end():].strip()
        if not expiry_text:
            raise UserError("until: give the date the intent expires, e.g. until 2027-01-31.", field="until")
    expires_at = _expiry(expiry_text, now, zone) if expiry_text else default_expiry
    if not condition_text:
        return Terms(Condition.MANUAL, expires_at, phrase="released by you with /release")
    if condition_text.lower().startswith("when"):
        terms = _price(condition_text, prices, expires_at)
    else:
        terms = _time(condition_text, now, zone, expires_at)
    return terms


def _time(text: str, now: datetime, zone: ZoneInfo, expires_at: datetime) -> Terms:
    due = read_when(_AT_DATE.sub("", text), now, zone)
    if due.rule is not None:
        raise UserError(RECURRING_REFUSAL, field="every")
    due_at = due.at.astimezone(UTC)
    if due_at <= now:
        raise UserError(f"at: {due.at:%Y-%m-%d %H:%M} ({zone.key}) is in the past; give a time ahead.", field="at")
    if due_at >= expires_at:
        raise UserError(f"at: {due.at:%Y-%m-%d %H:%M} is not before the intent expires "
                        f"({expires_at.astimezone(zone):%Y-%m-%d %H:%M}); give an earlier time or a later "
                        "“until <date>”.", field="at")
    return Terms(Condition.TIME, expires_at, due_at=due_at, phrase=due.phrase)


def _price(text: str, prices: PriceFeed | None, expires_at: datetime) -> Terms:
    m = _PRICE.match(text)
    if m is None:
        raise UserError(f"when: write a price condition as “when CRO above 0.12 USD” (or below), not “{text[:60]}”.",
                        field="when")
    if prices is None or not prices.pairs():
        raise UserError("pair: this bot reads no price feeds, so a payment cannot wait for a price.", field="pair")
    try:
        typed = pair_of(m.group(1), m.group(4), command="pay")
    except UserError as e:
        raise UserError(e.message.split("\n")[0], field="pair") from None
    pair = known_pair(prices, typed)
    decimals = prices.decimals(pair)
    above = m.group(2).lower() in ("above", "over")
    threshold = parse_price(m.group(3), decimals, pair)
    side = "above" if above else "below"
    return Terms(Condition.PRICE, expires_at, pair=pair, above=above, threshold=threshold, price_decimals=decimals,
                 phrase=f"when {pair} is {side} {show_price(threshold, decimals, pair)}")


def _expiry(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    try:
        at = read_when(_AT_DATE.sub("", text), now, zone)
    except UserError as e:
        raise UserError(e.message.replace("when:", "until:", 1), field="until") from None
    if at.rule is not None:
        raise UserError("until: give one date the intent expires, e.g. until 2027-01-31.", field="until")
    expires_at = at.at.astimezone(UTC)
    if expires_at <= now:
        raise UserError(f"until: {at.at:%Y-%m-%d %H:%M} is in the past; give a date ahead.", field="until")
    return expires_at
