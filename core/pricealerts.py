"""Price alerts: what one is, where they are kept, prices as typed and as shown, and the due-time pass that sends
a price_alert DM once per crossing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol

from core.errors import UserError
from core.model import Notification, NotificationType
from core.money import format_units
from core.prices import PriceFeed, PriceReading, fault
from core.replies import Reply, bold, code, dumps

if TYPE_CHECKING:  # core.services imports core.ports, which declares the UnitOfWork holding this repository
    from core.services import Services

LOCK = "price-alerts"  # one process at a time runs the pass (UnitOfWork.try_lock)
MOST_PER_PASS = 1000  # alerts moved per pair and pass; the rest move on the next pass, half a second later
# Thresholds are kept as BIGINT (a price, not money): any price up to ~92 billion at 8 decimals. A larger one is refused.
BIGGEST_PRICE = 2**63 - 1


@dataclass
class PriceAlert:
    """`/alert CRO above 0.12`: its owner is told each time `pair` crosses onto the asked side of `threshold`.

    `on_side` remembers where the last fresh reading put the price, so a DM goes out when the price MOVES onto the
    asked side, never on every tick it stays there; moving back re-arms it. Created while the price is already on
    that side, it does not fire (the reply says where the price is); it fires on the next crossing. Created while
    no fresh reading is available (None), the first fresh reading on the asked side fires it."""

    id: str  # "alert-…"
    owner_ref: str
    pair: str  # "CRO/USD"
    above: bool  # True: fires when the answer rises above threshold; False: when it falls below
    threshold: int  # the price scaled by 10**decimals, as the feed answers
    decimals: int  # the feed's decimals when it was made: a feed now answering with others is not compared
    created_at: datetime
    active: bool = True
    on_side: bool | None = None
    crossings: int = 0  # DMs sent so far; the next one's dedup key counts from here
    last_fired_at: datetime | None = None
    cancelled_at: datetime | None = None

    def side_of(self, answer: int) -> bool:
        """Whether `answer` is on the asked side (strictly: at the threshold is not above it, nor below)."""
        return answer > self.threshold if self.above else answer < self.threshold

    @property
    def condition(self) -> str:
        return f"{self.pair} {'above' if self.above else 'below'} {show_price(self.threshold, self.decimals, self.pair)}"


class PriceAlertRepository(Protocol):
    async def add(self, alert: PriceAlert) -> None: ...
    async def get(self, alert_id: str) -> PriceAlert | None: ...
    async def save(self, alert: PriceAlert) -> None: ...
    async def for_owner(self, owner_ref: str) -> list[PriceAlert]:
        """Their active alerts, oldest first."""
    async def pairs(self) -> list[str]:
        """The pairs at least one active alert watches."""
    async def changing(self, pair: str, decimals: int, answer: int, limit: int = MOST_PER_PASS) -> list[PriceAlert]:
        """Active alerts of `pair` (thresholds at `decimals`) whose `on_side` is not what `answer` makes it, decided
        in the query: the alerts a price leaves alone cost nothing per pass. Oldest first."""


# ---------------------------------------------------------------- prices as typed and shown
def parse_price(text: str, decimals: int, pair: str) -> int:
    """ "0.12" -> 12000000 at 8 decimals. UserError naming the problem: not a number, zero or negative, more
    decimals than the feed has, or beyond what an alert keeps."""
    raw = text.strip().replace("_", "")
    shown = raw if len(raw) <= 30 else raw[:30] + "…"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise UserError(f"price: {shown} is not a number; write it like 0.12", field="price") from None
    if not value.is_finite() or "e" in raw.lower():
        raise UserError(f"price: write the number out in full, like 0.12 (not {shown})", field="price")
    if value <= 0:
        raise UserError(f"price: must be more than 0, got {shown}", field="price")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if -exponent > decimals:
        raise UserError(f"price: {shown} has {-exponent} decimals, but the {pair} feed has {decimals}; "
                        f"give at most {decimals}", field="price")
    scaled = int(value.scaleb(decimals))
    if scaled > BIGGEST_PRICE:
        raise UserError(f"price: {shown} is larger than any {pair} price I can watch", field="price")
    return scaled


def quote_of(pair: str) -> str:
    return pair.partition("/")[2] or pair


def show_price(answer: int, decimals: int, pair: str) -> str:
    """12340000 at 8 decimals of CRO/USD -> "0.1234 USD"."""
    return f"{format_units(answer, decimals)} {quote_of(pair)}"


def ago(age: timedelta) -> str:
    """How long ago, the way a person says it: "12 s", "5 min", "3 h", "2 days"."""
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def usable(reading: PriceReading, now: datetime, max_age: timedelta) -> str | None:
    """None when the reading may be acted on; otherwise why not (stale, or not a price at all)."""
    problem = fault(reading, now, max_age)
    if problem == "broken":
        return f"the {reading.pair} feed answers {reading.answer}, which is not a price; nothing acts on it"
    if problem == "stale":
        return (f"stale: the {reading.pair} feed has not updated for {ago(now - reading.updated_at)} (the limit is "
                f"{ago(max_age)}), so nothing acts on it")
    return None


def known_pair(feed: PriceFeed, pair: str) -> str:
    """`pair` if a feed answers for it; else UserError naming the pairs there are."""
    pairs = feed.pairs()
    if pair.upper() not in pairs:
        there = ", ".join(pairs) if pairs else "none"
        raise UserError(f"pair: there is no price feed for {pair}; the feeds here are: {there}", field="pair")
    return pair.upper()


# ---------------------------------------------------------------- the due-time pass
async def tick(s: Services) -> int:
    """One pass: one feed read per watched pair; every alert the reading moves across its threshold records the
    side, and those moved onto the asked side fire, each with a dedup key of its own crossing, so a second process
    or a repeated pass sends nothing twice. Stale readings and answers <= 0 move nothing. Returns alerts moved."""
    if s.prices is None:
        return 0
    async with s.uow() as uow:
        pairs = await uow.price_alerts.pairs()
    now = s.clock.now()
    readings: list[tuple[str, PriceReading]] = []
    for pair in pairs:  # read outside any transaction: nothing waits on the node while holding the database
        try:
            reading = await s.prices.latest(pair)
        except UserError:  # the pair is no longer configured: its alerts wait (and /alerts still shows them)
            continue
        if usable(reading, now, s.policy.price_max_age) is None:
            readings.append((pair, reading))
    if not readings:
        return 0
    moved = fired = 0
    async with s.uow() as uow:
        # Decided under the lock from what is stored now: a process that read the feed a moment earlier than
        # another finds the alerts already moved, and moves nothing twice.
        if not await uow.try_lock(LOCK):
            return 0
        for pair, reading in readings:
            for alert in await uow.price_alerts.changing(pair, reading.decimals, reading.answer):
                on = alert.side_of(reading.answer)
                if on and alert.on_side is not True:
                    alert.crossings += 1
                    alert.last_fired_at = now
                    await uow.outbox.add(_notice(alert, reading, now))
                    fired += 1
                alert.on_side = on
                await uow.price_alerts.save(alert)
                moved += 1
        if moved:
            await uow.commit()
    if fired:
        s.notify_soon()
    return moved


def _notice(alert: PriceAlert, reading: PriceReading, now: datetime) -> Notification:
    went = "rose above" if alert.above else "fell below"
    body = Reply.of(
        ("📈 " if alert.above else "📉 ", bold(alert.pair), f" {went} {show_price(alert.threshold, alert.decimals, alert.pair)}: ",
         bold(show_price(reading.answer, reading.decimals, reading.pair)), " now."),
        ("Alert ", code(alert.id), ". I will tell you again if it goes back and crosses once more; ",
         code(f"/alert cancel {alert.id}"), " stops it."),
        private=True,
    )
    return Notification(f"pricealert:{alert.id}:{alert.crossings}", alert.owner_ref, NotificationType.PRICE_ALERT,
                        dumps(body), now)
