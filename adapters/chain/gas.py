"""Gas limits: one fixed limit per payment kind (no estimateGas round trip), and executeBatch sizing."""

from __future__ import annotations

from core.ports import PaymentOrder

# Fixed gas limits (no estimateGas round trip). Measured on anvil (see tests/adapters/chain):
# a native execute to a fresh account uses ~94k, an ERC-20 one to a fresh holder ~93k; 200k leaves room for a recipient
# contract using its whole 30k native stipend. Unused gas is not charged.
GAS_EXECUTE = 200_000
GAS_MIXER_DEPOSIT = 1_200_000  # the pool's deposit hashes 20 tree levels with Poseidon (~0.8M)
# executeBatch: a fixed part plus a reservation per item. Measured per payout (tests print them): native to
# a fresh account ~61k, to an existing account ~36k; a recipient burning its whole 30k stipend adds ~30k.
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
