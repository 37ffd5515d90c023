"""ChainPriceFeeds on anvil: the dev feed moved and read, any AggregatorV3 feed read, unknown pairs refused, and
the PRICE_FEEDS setting parsed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account

from adapters.chain import prices as px
from adapters.chain.deploy import DEV_PRICE_MOVER_KEY, deploy_stack
from adapters.chain.devnet import anvil_keys
from adapters.chain.prices import ChainPriceFeeds, parse_price_feeds
from adapters.chain.rpc import HttpNode
from core.errors import UserError

from .ops import Actor, call_data, sel

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
async def feeds(anvil):
    node = HttpNode(anvil.url)
    d = await deploy_stack(node, anvil.keys[4], executor=Account.from_key(anvil.keys[3]).address, dev_tokens=True,
                           token_supply_whole=0)
    yield node, d
    await node.close()


async def head_time(node: HttpNode) -> int:
    return int((await node.request("eth_getBlockByNumber", ["latest", False]))["timestamp"], 16)


def test_the_dev_mover_is_anvils_public_account_9():
    assert anvil_keys(10)[9] == DEV_PRICE_MOVER_KEY


async def test_the_dev_feed_starts_at_ten_cents_and_moves(feeds):
    node, d = feeds
    prices = await ChainPriceFeeds.connect(node, d.price_feeds, mover_key=DEV_PRICE_MOVER_KEY)
    assert prices.pairs() == ["CRO/USD"] and prices.decimals("cro/usd") == 8
    first = await prices.latest("CRO/USD")
    assert (first.pair, first.answer, first.decimals) == ("CRO/USD", 10_000_000, 8)
    tx_hash = await prices.set_price("CRO/USD", 12_500_000)
    assert tx_hash is not None and (await node.receipt(tx_hash))["status"] == 1
    moved = await prices.latest("CRO/USD")
    assert moved.answer == 12_500_000 and moved.round_id == first.round_id + 1
    assert moved.updated_at == datetime.fromtimestamp(await head_time(node), UTC)
    # A round as if updated a day ago: the reading says so, and the core calls it stale.
    long_ago = await head_time(node) - 86_400
    await prices.set_round("CRO/USD", 13_000_000, long_ago)
    stale = await prices.latest("CRO/USD")
    assert stale.answer == 13_000_000 and stale.updated_at == datetime.fromtimestamp(long_ago, UTC)


async def test_the_dev_feed_answers_like_an_aggregator_v3(feeds):
    node, d = feeds
    feed = d.price_feeds["CRO/USD"]
    text = abi_decode(["string"], await node.call({"to": feed, "data": sel("description()")}))[0]
    version = int.from_bytes(await node.call({"to": feed, "data": sel("version()")}), "big")
    assert (text, version) == ("CRO / USD", 4)
    latest = abi_decode(["uint80", "int256", "uint256", "uint256", "uint80"],
                        await node.call({"to": feed, "data": sel("latestRoundData()")}))
    by_id = abi_decode(["uint80", "int256", "uint256", "uint256", "uint80"],
                       await node.call({"to": feed, "data": call_data("getRoundData(uint80)", ["uint80"], [latest[0]])}))
    assert latest == by_id and latest[4] == latest[0]
    stranger = Actor(node, Account.create().key.hex(), d.chain_id)
    name, _ = await stranger.revert_of(feed, px.set_answer_calldata(1))
    assert name == "OwnableUnauthorizedAccount"  # only the mover moves it


async def test_a_feed_we_do_not_own_is_read_but_never_moved(feeds, anvil):
    """Any AggregatorV3 feed (here a DevPriceFeed owned by someone else, as a real Chainlink feed would be):
    read through the adapter; set_price answers None and changes nothing."""
    node, d = feeds
    owner = Actor(node, anvil.keys[4], d.chain_id)
    eth_usd = await owner.deploy("DevPriceFeed", ["uint8", "string", "int256", "address"],
                                 [8, "ETH / USD", 3_000 * 10**8, owner.address])
    prices = await ChainPriceFeeds.connect(node, {"eth/usd": eth_usd}, mover_key=DEV_PRICE_MOVER_KEY)
    assert (await prices.latest("ETH/USD")).answer == 3_000 * 10**8
    assert await prices.set_price("ETH/USD", 1) is None
    assert (await prices.latest("ETH/USD")).answer == 3_000 * 10**8
    unmovable = await ChainPriceFeeds.connect(node, d.price_feeds)  # no mover key: a real chain
    assert await unmovable.set_price("CRO/USD", 1) is None


async def test_an_unknown_pair_is_refused_naming_the_known_ones(feeds):
    node, d = feeds
    prices = await ChainPriceFeeds.connect(node, d.price_feeds, mover_key=DEV_PRICE_MOVER_KEY)
    for pair in ("BTC/USD", "nonsense"):
        with pytest.raises(UserError) as info:
            await prices.latest(pair)
        assert info.value.field == "pair" and "CRO/USD" in info.value.message and pair in info.value.message
        with pytest.raises(UserError):
            prices.decimals(pair)
        with pytest.raises(UserError):
            await prices.set_price(pair, 1)


async def test_an_address_that_is_no_feed_stops_the_start(feeds):
    node, d = feeds
    with pytest.raises(ValueError, match="CRO/USD=.*does not answer decimals"):
        await ChainPriceFeeds.connect(node, {"CRO/USD": d.settlement})


def test_the_price_feeds_setting():
    a, b = "0x" + "11" * 20, "0x" + "22" * 20
    assert parse_price_feeds(f" cro/usd={a}, ETH/USD = {b} ") == {"CRO/USD": px.to_checksum_address(a),
                                                                  "ETH/USD": px.to_checksum_address(b)}
    assert parse_price_feeds("") == {}
    for bad in (f"CROUSD={a}", "CRO/USD=0x12", f"CRO/USD{a}", f"CRO/=${a}"):
        with pytest.raises(ValueError):
            parse_price_feeds(bad)
