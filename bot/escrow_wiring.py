"""Builds the Settlement's escrow (members' intents) and the price feeds (PRICE_FEEDS, or a dev chain's dev feed)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.settings import ConfigError, Settings

if TYPE_CHECKING:
    from adapters.chain import Web3Chain
    from adapters.chain.escrow import SettlementEscrow
    from adapters.chain.prices import ChainPriceFeeds


async def build(settings: Settings, chain: Web3Chain, dev_feeds: dict[str, str], *, embedded: bool
                ) -> tuple[SettlementEscrow, ChainPriceFeeds | None]:
    """The escrow always (every Settlement has one). Prices: the embedded chain's own dev feed (`dev_feeds`, from
    its deployment: PRICE_FEEDS cannot point into a chain made at start), else PRICE_FEEDS; None without feeds.
    On a dev chain the dev feed can be moved (the public dev mover key); on Cronos (25, 338) never."""
    from adapters.chain.deploy import DEV_PRICE_MOVER_KEY
    from adapters.chain.escrow import SettlementEscrow
    from adapters.chain.prices import ChainPriceFeeds, parse_price_feeds
    from bot.keys import REAL_MONEY_CHAINS

    escrow = SettlementEscrow(chain)
    try:
        feeds = dict(dev_feeds) if embedded else parse_price_feeds(settings.price_feeds)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not feeds:
        return escrow, None
    mover = None if chain.chain_id in REAL_MONEY_CHAINS else DEV_PRICE_MOVER_KEY
    known = _decimals.get((settings.rpc_url, tuple(sorted(feeds.items())))) if not embedded else None
    if known is not None:  # a feed's decimals never change: RQ's job processes inherit them from the worker
        return escrow, ChainPriceFeeds(chain.node, feeds, known, mover_key=mover)
    try:
        prices = await ChainPriceFeeds.connect(chain.node, feeds, mover_key=mover)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not embedded:  # an embedded chain is new in every process
        _decimals[(settings.rpc_url, tuple(sorted(feeds.items())))] = {p: prices.decimals(p) for p in prices.pairs()}
    return escrow, prices


# PRICE_FEEDS' decimals per node and feeds, read by this process's first build (a worker's start-up resume()).
_decimals: dict[tuple[str | None, tuple[tuple[str, str], ...]], dict[str, int]] = {}
