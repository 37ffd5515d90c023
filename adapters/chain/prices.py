"""ChainPriceFeeds: the core's PriceFeed port over Chainlink AggregatorV3 feeds, and the dev feed that can be moved.

    parse_price_feeds("CRO/USD=0x…,ETH/USD=0x…")            -> {"CRO/USD": "0x…", ...}   (the PRICE_FEEDS setting)
    await ChainPriceFeeds.connect(node, feeds, mover_key=…)  -> reads each feed's decimals once
A feed is any contract answering AggregatorV3Interface (`decimals()`, `latestRoundData()`). `set_price` moves
only a DevPriceFeed (contracts/DevPriceFeed.sol) owned by `mover_key`, a public dev key given on dev chains
only; anything else answers None.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import is_address, to_checksum_address

from core.errors import ChainUnavailable, UserError
from core.prices import PriceReading

from . import settlement as st
from .deploy import owner_transaction
from .rpc import Node, Reverted, RpcError

DECIMALS = st.selector("decimals()")
LATEST_ROUND_DATA = st.selector("latestRoundData()")
OWNER = st.selector("owner()")
SET_ANSWER = st.selector("setAnswer(int256)")
SET_ROUND = st.selector("setRound(int256,uint256)")


def normal_pair(pair: str) -> str:
    """"cro/usd" -> "CRO/USD"; anything not BASE/QUOTE -> ValueError."""
    base, slash, quote = pair.strip().upper().partition("/")
    if not slash or not base.isalnum() or not quote.isalnum():
        raise ValueError(f"{pair!r} is not a price pair like CRO/USD")
    return f"{base}/{quote}"


def parse_price_feeds(value: str) -> dict[str, str]:
    """The PRICE_FEEDS setting: "CRO/USD=0x…,ETH/USD=0x…" -> {pair: checksummed address}; ValueError names the
    entry at fault."""
    feeds: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        pair, eq, address = entry.partition("=")
        if not eq or not is_address(address.strip()):
            raise ValueError(f"PRICE_FEEDS: {entry!r} is not PAIR=0xADDRESS (e.g. CRO/USD=0x…)")
        feeds[normal_pair(pair)] = to_checksum_address(address.strip())
    return feeds


def set_answer_calldata(answer: int) -> bytes:
    return SET_ANSWER + abi_encode(["int256"], [answer])


def set_round_calldata(answer: int, updated_at: int) -> bytes:
    """The dev feed's round with any updatedAt (tests make a feed stale with it)."""
    return SET_ROUND + abi_encode(["int256", "uint256"], [answer, updated_at])


def decode_round(pair: str, decimals: int, out: bytes) -> PriceReading:
    round_id, answer, _started, updated_at, _answered_in = abi_decode(
        ["uint80", "int256", "uint256", "uint256", "uint80"], bytes(out))
    try:
        when = datetime.fromtimestamp(updated_at, UTC)
    except (OverflowError, OSError, ValueError):  # nonsense from a broken feed: as old as it gets, so stale
        when = datetime.min.replace(tzinfo=UTC)
    return PriceReading(pair=pair, answer=answer, decimals=decimals, updated_at=when, round_id=round_id)


class ChainPriceFeeds:
    """core.prices.PriceFeed over AggregatorV3 feeds at known addresses on the node behind `node`."""

    def __init__(self, node: Node, feeds: dict[str, str], decimals: dict[str, int], *,
                 mover_key: str | None = None) -> None:
        self._node = node
        self._feeds = {normal_pair(p): to_checksum_address(a) for p, a in feeds.items()}
        self._decimals = {normal_pair(p): d for p, d in decimals.items()}
        self._mover_key = mover_key
        self._mover = Account.from_key(mover_key).address if mover_key else None
        self._movable: dict[str, bool] = {}  # pair -> the feed is a dev feed our mover owns (asked once)

    def __repr__(self) -> str:  # never the mover key
        return f"ChainPriceFeeds({sorted(self._feeds)}, node={self._node.label})"

    @classmethod
    async def connect(cls, node: Node, feeds: dict[str, str], *, mover_key: str | None = None) -> ChainPriceFeeds:
        """Read every feed's decimals once (a feed that does not answer stops the start, naming it)."""
        pairs = [normal_pair(p) for p in feeds]
        answers = await asyncio.gather(*(node.call({"to": feeds[p], "data": DECIMALS}) for p in feeds),
                                       return_exceptions=True)
        decimals: dict[str, int] = {}
        for pair, (given, address), out in zip(pairs, feeds.items(), answers, strict=True):
            if isinstance(out, BaseException) or len(out) < 32:
                if isinstance(out, ChainUnavailable):
                    raise out
                raise ValueError(f"PRICE_FEEDS: {given}={address} does not answer decimals() like an "
                                 "AggregatorV3 price feed")
            decimals[pair] = int.from_bytes(out[:32], "big")
        return cls(node, feeds, decimals, mover_key=mover_key)

    def pairs(self) -> list[str]:
        return sorted(self._feeds)

    def address(self, pair: str) -> str:
        return self._feeds[self._known(pair)]

    def _known(self, pair: str) -> str:
        try:
            key = normal_pair(pair)
        except ValueError:
            key = pair
        if key not in self._feeds:
            known = ", ".join(self.pairs()) or "none are configured (PRICE_FEEDS)"
            raise UserError(f"pair: there is no price feed for {pair}; known pairs: {known}", field="pair")
        return key

    def decimals(self, pair: str) -> int:
        return self._decimals[self._known(pair)]

    async def latest(self, pair: str) -> PriceReading:
        key = self._known(pair)
        try:
            out = await self._node.call({"to": self._feeds[key], "data": LATEST_ROUND_DATA})
        except RpcError as exc:  # a feed that reverts is as good as down: nothing may act on it
            raise ChainUnavailable(f"the {key} price feed did not answer ({exc.message})") from None
        if len(out) < 160:
            raise ChainUnavailable(f"the {key} price feed answered something that is not a round")
        return decode_round(key, self._decimals[key], out)

    async def set_price(self, pair: str, answer: int) -> str | None:
        """Dev feeds only: a new round at `answer` (scaled by the feed's decimals), mined before this returns."""
        return await self._move(pair, set_answer_calldata(answer))

    async def set_round(self, pair: str, answer: int, updated_at: int) -> str | None:
        """Dev feeds only: a round as if updated at `updated_at` (unix seconds), e.g. to make the feed stale."""
        return await self._move(pair, set_round_calldata(answer, updated_at))

    async def _move(self, pair: str, data: bytes) -> str | None:
        key = self._known(pair)
        if self._mover_key is None or not await self._is_movable(key):
            return None
        tx_hash, _block = await owner_transaction(self._node, self._mover_key, self._feeds[key], data, gas=120_000)
        return tx_hash

    async def _is_movable(self, pair: str) -> bool:
        if pair not in self._movable:
            try:
                out = await self._node.call({"to": self._feeds[pair], "data": OWNER})
                self._movable[pair] = len(out) >= 32 and to_checksum_address(out[12:32]) == self._mover
            except Reverted:  # a real aggregator has no owner() we could be
                self._movable[pair] = False
        return self._movable[pair]
