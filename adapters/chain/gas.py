"""Gas limits: one fixed limit per payment kind (no estimateGas round trip); executeBatch sized to fill blocks."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes

from core.ports import PaymentOrder, SignedTx

from .rpc import Node, RpcError

# Fixed gas limits (no estimateGas round trip). Measured on anvil (see tests/adapters/chain):
# a native execute to a fresh account uses ~94k, an ERC-20 one to a fresh holder ~93k; 200k leaves room for a recipient
# contract using its whole 30k native stipend. Unused gas is not charged.
GAS_EXECUTE = 200_000
GAS_MIXER_DEPOSIT = 1_200_000  # the pool's deposit hashes 20 tree levels with Poseidon (~0.8M)
# executeBatch: a fixed part plus a reservation per item. Measured per payout (test_bulk_gas.py, the bitmap
# contract): native to a fresh account ~36.5k, ERC-20 to a fresh holder ~27.6k; a recipient burning its whole
# 30k stipend adds ~30k.
GAS_BATCH_BASE = 80_000
GAS_PER_BATCH_ITEM = 95_000
# EIP-7825 caps one transaction at 2**24 gas on nodes at the Osaka fork (anvil 1.7 is); stay under it.
TX_GAS_CAP = 16_000_000


def batch_gas_limit(items: int) -> int:
    """The gas limit sign_batch uses for `items` payouts."""
    return min(GAS_BATCH_BASE + GAS_PER_BATCH_ITEM * items, TX_GAS_CAP)


def batch_capacity(max_gas: int = TX_GAS_CAP) -> int:
    """How many payouts one executeBatch may carry under `max_gas` (167 at the default cap)."""
    return max(1, (min(max_gas, TX_GAS_CAP) - GAS_BATCH_BASE) // GAS_PER_BATCH_ITEM)


def chunk_orders(orders: list[PaymentOrder], max_gas: int = TX_GAS_CAP) -> list[list[PaymentOrder]]:
    """Split orders into executeBatch-sized chunks, in order."""
    size = batch_capacity(max_gas)
    return [orders[i : i + size] for i in range(0, len(orders), size)]


# ---------------------------------------------------------------- filling blocks
# A block takes a transaction only while its gas *limit* fits what the block has left, so a batch signed with
# the per-item reservation above (95k for a ~62k payout) leaves a third of every block empty. Batches are
# therefore signed with the node's own estimate plus a small margin (a change of state that makes the batch
# dearer before it is mined runs it out of gas: it reverts whole, pays nobody, and the pipeline signs its rows
# again), and chunks are sized so that several of them fill a block: whatever does not fit is at most one
# chunk, so smaller chunks waste less of each block, at ~45k gas of fixed cost per transaction.
CHUNKS_PER_BLOCK = 8
# A typical payout inside executeBatch (native, to a fresh account), used to size chunks before they are
# estimated. Re-measure with `snowrail bench bulk` when the contract changes; an overestimate only makes
# chunks smaller than planned.
GAS_PER_PAYOUT_PLANNED = 37_000


def estimated_batch_gas(estimate: int, reserved: int) -> int:
    """The gas limit to sign a batch with: the node's estimate plus 1/64 (the share a call keeps back) and
    10k, and never more than the per-item reservation."""
    return min(reserved, estimate + estimate // 64 + 10_000)


async def estimate_gas(node: Node, sender: str, to: str, data: bytes, reserved: int,
                       simulate: Callable[[], Awaitable[None]]) -> int:
    """The gas limit to sign `data` with: estimated_batch_gas of the gas one run of it uses now, as
    eth_createAccessList reports it (one execution on the node; eth_estimateGas searches, at ~5x the work, and
    the node also mines full blocks meanwhile). A transaction sent without that access list spends ~100 gas
    more per address and slot it touches, well inside the margin. When the call reverts, or the node cannot
    say (eth-tester), `simulate()` runs: it raises the revert's sentence, or `reserved` is signed."""
    call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(reserved)}
    try:
        answer = await node.request("eth_createAccessList", [call, "latest"])
        if isinstance(answer, dict) and answer.get("gasUsed") and not answer.get("error"):
            return estimated_batch_gas(int(answer["gasUsed"], 16), reserved)
    except (RpcError, NotImplementedError, TypeError, ValueError, KeyError):  # reverted, or eth-tester's "not implemented"
        pass
    await simulate()
    return reserved


class KeptBatches:
    """Batches prepared (signed once, which simulates and estimates them) in the last `ttl` seconds, by their
    orders: the calldata with the executor's authorisation, and the gas limit. The next signing of the same
    orders takes them out and only signs a transaction: no EIP-712 signature, no simulation, no estimate. The
    bulk pipeline prepares each chunk before it takes the nonce lock (held by one signer at a time across every
    worker) and signs it under the lock; any later signing of those orders (a fee bump, a chunk that ran out of
    gas) starts afresh."""

    def __init__(self, ttl: float = 30.0, most: int = 512) -> None:
        self.ttl, self.most = ttl, most
        self._kept: OrderedDict[Hashable, tuple[float, bytes, int]] = OrderedDict()

    def pop(self, key: Hashable) -> tuple[bytes, int] | None:
        kept = self._kept.pop(key, None)
        return (kept[1], kept[2]) if kept is not None and time.monotonic() - kept[0] < self.ttl else None

    def keep(self, key: Hashable, signed: SignedTx) -> SignedTx:
        tx = TypedTransaction.from_bytes(HexBytes(signed.raw)).as_dict()
        self._kept[key] = (time.monotonic(), bytes(tx["data"]), int(tx["gas"]))
        self._kept.move_to_end(key)
        while len(self._kept) > self.most:
            self._kept.popitem(last=False)
        return signed


async def block_gas_limit(node: Node) -> int | None:
    """The latest block's gas limit, or None from a node that does not say."""
    try:
        block = await node.request("eth_getBlockByNumber", ["latest", False])
        value = block.get("gasLimit", block.get("gas_limit")) if isinstance(block, dict) else None
        return int(value, 16) if isinstance(value, str) else int(value) if value else None
    except (RpcError, TypeError, ValueError):
        return None


async def chunk_capacity_of(node: Node) -> int:
    """chunk_capacity for the blocks `node` makes now."""
    return chunk_capacity(await block_gas_limit(node))


def chunk_capacity(block_gas_limit: int | None, per_payout: int = GAS_PER_PAYOUT_PLANNED) -> int:
    """Payouts per chunk so that about CHUNKS_PER_BLOCK chunks fill a block of `block_gas_limit` gas (unknown:
    as many as one transaction may carry)."""
    most = batch_capacity()
    if not block_gas_limit:
        return most
    share = min(block_gas_limit // CHUNKS_PER_BLOCK, TX_GAS_CAP)
    return max(1, min(most, (share - GAS_BATCH_BASE) // per_payout))
