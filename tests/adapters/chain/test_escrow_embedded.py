"""The embedded chain (in-process eth-tester, the zero-setup default) deploys the escrowing Settlement and the dev
price feed, and both adapters work on it."""

from __future__ import annotations

import os

from eth_account import Account

from adapters.chain import dev_chain
from adapters.chain import escrow as ex
from adapters.chain.deploy import DEV_PRICE_MOVER_KEY
from adapters.chain.escrow import SettlementEscrow
from adapters.chain.prices import ChainPriceFeeds
from core.escrow.ports import EscrowTerms, OnChain

FUNDER_KEY = "0x" + "00" * 31 + "02"  # eth-tester's second funded account


async def send(node, key: str, to: str, data: bytes, value: int = 0) -> dict:
    account = Account.from_key(key)
    tx = {"type": 2, "chainId": await node.chain_id(), "nonce": await node.pending_nonce(account.address),
          "to": to, "value": value, "data": data, "gas": 300_000,
          "maxFeePerGas": 2 * await node.base_fee() + 10**9, "maxPriorityFeePerGas": 10**9}
    tx_hash = await node.send_raw(bytes(account.sign_transaction(tx).raw_transaction))
    receipt = await node.receipt(tx_hash)
    assert receipt is not None
    return receipt


async def test_the_embedded_chain_escrows_and_prices():
    chain, deployment = dev_chain()
    try:
        node, escrow = chain.node, SettlementEscrow(chain)
        number, now = await escrow.head()
        terms = EscrowTerms(chain.tokens.native, Account.create().address, 10**18, now + 3600,
                            "0x" + os.urandom(32).hex())
        h = escrow.intent_hash(terms)
        assert "0x" + (await node.call({"to": chain.treasury, "data": ex.intent_hash_of_calldata(terms)})).hex() == h
        funded = await send(node, FUNDER_KEY, chain.treasury, ex.fund_calldata(terms, 10**18), value=10**18)
        assert funded["status"] == 1
        [event] = await escrow.events(number + 1, funded["block_number"])
        assert (event.kind, event.intent_hash, event.value) == ("funded", h, 10**18)
        signed = await escrow.sign_release(h, await chain.pending_nonce())
        released = await node.receipt(await chain.broadcast(signed.raw))
        assert released is not None and released["status"] == 1
        assert await node.balance(terms.recipient) == 10**18
        assert (await escrow.escrow(h)).status is OnChain.RELEASED

        prices = await ChainPriceFeeds.connect(node, deployment.price_feeds, mover_key=DEV_PRICE_MOVER_KEY)
        assert (await prices.latest("CRO/USD")).answer == 10_000_000
        assert await prices.set_price("CRO/USD", 8_000_000) is not None
        assert (await prices.latest("CRO/USD")).answer == 8_000_000
    finally:
        await chain.close()
