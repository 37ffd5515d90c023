"""Web3Chain.used_row_words against eth-tester and anvil: the paid-rows bitmap words in use, read in one batch."""

from __future__ import annotations

import random

import pytest
from eth_account import Account

from adapters.chain import Web3Chain, connect, dev_chain
from core.ports import PaymentOrder

from .ops import row_id


def payout(chain: Web3Chain, rid: int) -> PaymentOrder:
    return PaymentOrder("0x" + random.randbytes(32).hex(), Account.create().address, chain.tokens.get("CRO"), 10**12,
                        row_id=rid)


async def pay_rows(chain: Web3Chain, ids: list[int]) -> None:
    signed = await chain.sign_batch([payout(chain, i) for i in ids], await chain.pending_nonce())
    await chain.broadcast(signed.raw)
    receipt = await chain.wait_for_receipt(signed.tx_hash, 10)
    assert receipt is not None and receipt.paid_rows == set(ids)


async def words_in_use_are_found(chain: Web3Chain) -> None:
    word = (row_id() >> 8) + 1  # ten words nobody else uses: other tests take ids from the same counter
    base = word << 8
    while row_id() < base + 10 * 256:
        pass
    assert await chain.used_row_words(word, word + 9) == []
    await pay_rows(chain, [base + 3, base + 2 * 256 + 255, base + 7 * 256])  # words +0, +2 and +7; +1 stays free
    assert await chain.used_row_words(word, word + 9) == [word, word + 2, word + 7]
    assert await chain.used_row_words(word + 1, word + 1) == []
    assert await chain.used_row_words(word + 3, word + 2) == []


async def test_eth_tester_reads_the_words_in_use():
    chain, _ = dev_chain()
    await words_in_use_are_found(chain)


@pytest.fixture
async def anvil_chain(anvil_stack):
    d = anvil_stack.deployment
    tokens = ",".join(f"{s}={a}" for s, a in d.tokens.items())
    c = await connect(anvil_stack.url, anvil_stack.executor_key, d.settlement, tokens=tokens)
    yield c
    await c.close()


async def test_anvil_reads_the_words_in_use(anvil_chain):
    await words_in_use_are_found(anvil_chain)
