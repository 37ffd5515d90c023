"""Prices as the core sees them: the PriceFeed port (a Chainlink-style AggregatorV3 feed per pair) and readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol


@dataclass(frozen=True)
class PriceReading:
    """One answer of a feed: `answer` / 10**decimals units of the quote per unit of the base ("CRO/USD")."""

    pair: str  # "BASE/QUOTE", upper case, e.g. "CRO/USD"
    answer: int  # scaled by 10**decimals; a feed may answer <= 0 when broken: never act on that
    decimals: int
    updated_at: datetime  # the feed's updatedAt (aware, UTC): older than the allowed age means stale
    round_id: int


def fault(reading: PriceReading, now: datetime, max_age: timedelta) -> Literal["broken", "stale"] | None:
    """The one rule for acting on a reading (price conditions, alerts, /price): a feed answering <= 0 is broken,
    one older than `max_age` (PRICE_MAX_AGE_SECONDS) is stale; None when it may be acted on."""
    if reading.answer <= 0:
        return "broken"
    return "stale" if now - reading.updated_at > max_age else None


class PriceFeed(Protocol):
    """The price feeds this bot reads (PRICE_FEEDS=CRO/USD=0x…, or the dev feed on dev chains). Raises
    TransientError (ChainUnavailable) when the node is down; UserError naming the known pairs for an unknown one."""

    def pairs(self) -> list[str]:
        """The configured pairs, e.g. ["CRO/USD"]."""

    def decimals(self, pair: str) -> int:
        """How many decimals the pair's answers carry (read once at start): a price typed with more is refused."""

    async def latest(self, pair: str) -> PriceReading: ...

    async def set_price(self, pair: str, answer: int) -> str | None:
        """Dev chains only: move the dev feed (tests, the console's /price). Returns the transaction hash, or
        None when this feed cannot be moved (a real Chainlink feed)."""
