"""Sizing and signing bulk chunks so that blocks fill: chunk capacity from the block gas limit, tight gas limits,
prepared batches kept for one signing."""

import time

from adapters.chain.gas import (CHUNKS_PER_BLOCK, GAS_PER_PAYOUT_PLANNED, KeptBatches, batch_capacity, chunk_capacity,
                                estimated_batch_gas)
from core.ports import SignedTx


def _signed(gas: int, data: bytes = b"\x01\x02") -> SignedTx:
    from eth_account import Account

    key = "0x" + "11" * 32
    tx = {"type": 2, "chainId": 1, "nonce": 7, "to": "0x" + "22" * 20, "value": 0, "data": data, "gas": gas,
          "maxFeePerGas": 3, "maxPriorityFeePerGas": 1}
    signed = Account.sign_transaction(tx, key)
    return SignedTx(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex(), 7)


def test_chunks_are_a_share_of_the_block_and_never_more_than_a_transaction_holds():
    per_chunk = chunk_capacity(30_000_000)
    assert per_chunk * GAS_PER_PAYOUT_PLANNED <= 30_000_000 // CHUNKS_PER_BLOCK
    assert (per_chunk + 1) * GAS_PER_PAYOUT_PLANNED + 80_000 > 30_000_000 // CHUNKS_PER_BLOCK
    assert chunk_capacity(None) == batch_capacity()  # a node that does not say: as many as one transaction holds
    assert chunk_capacity(2_000_000_000) == batch_capacity()  # a huge block: the transaction cap decides
    assert chunk_capacity(100_000) == 1


def test_the_gas_limit_is_the_estimate_with_a_small_margin_never_above_the_reservation():
    assert 3_700_000 < estimated_batch_gas(3_700_000, 16_000_000) <= 3_700_000 * 1.02 + 10_000
    assert estimated_batch_gas(3_700_000, 3_000_000) == 3_000_000


def test_a_prepared_batch_is_signed_from_its_kept_calldata_once_then_afresh():
    kept = KeptBatches(ttl=30)
    kept.keep(("a", "b"), _signed(123_456, b"calldata"))
    assert kept.pop(("a", "b")) == (b"calldata", 123_456)
    assert kept.pop(("a", "b")) is None  # taken: a later signing (a bump, a re-signing) simulates again
    old = KeptBatches(ttl=0.01)
    old.keep("k", _signed(21_000))
    time.sleep(0.02)
    assert old.pop("k") is None  # too old to trust its estimate
