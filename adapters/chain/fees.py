"""Network fees on chain: what a transaction signed now offers per gas, and what a mined one cost.

The one formula every sender uses (payments, batches, deployments, the mixer's pool): cached briefly for
/pay, and raised step by step for a replacement with the same nonce.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from .rpc import Node

BUMP_NUMERATOR, BUMP_DENOMINATOR = 9, 8  # +12.5% per replacement step (geth wants >= 10%)
_REMEMBERED_NONCES = 4096


def max_fee_per_gas(base_fee: int, tip: int) -> int:
    """The most a transaction signed now offers per gas. 2x the base fee survives six full blocks of +12.5%
    before the transaction stalls; unused headroom is not charged (EIP-1559 pays base fee + tip)."""
    return 2 * base_fee + tip


async def offered_fees(node: Node) -> tuple[int, int]:
    """(maxFeePerGas, maxPriorityFeePerGas) for a transaction signed now on `node`."""
    base, tip = await asyncio.gather(node.base_fee(), node.priority_fee())
    return max_fee_per_gas(base, tip), tip


def fee_paid(receipt: dict) -> int:
    """What a mined transaction cost, in the native coin's base units, from a node's normalised receipt."""
    return receipt["gas_used"] * receipt["effective_gas_price"]


def bumped(max_fee: int, tip: int, steps: int) -> tuple[int, int]:
    """Both fees raised `steps` replacement steps (each at least +12.5%, rounded up, plus one)."""
    for _ in range(steps):
        max_fee = -(-max_fee * BUMP_NUMERATOR // BUMP_DENOMINATOR) + 1
        tip = -(-tip * BUMP_NUMERATOR // BUMP_DENOMINATOR) + 1
    return max_fee, tip


@dataclass
class Fees:
    max_fee: int
    tip: int
    at: float


class FeeBook:
    """The node's fees, read at most once per `ttl` seconds (a /pay has a 150 ms p95 budget), and the fees
    signed per nonce, so a bump is relative to what is actually pending, even if fees fell since."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._fees: Fees | None = None
        self._lock = asyncio.Lock()
        self._signed: OrderedDict[int, tuple[int, int]] = OrderedDict()

    async def current(self, node: Node) -> Fees:
        fees = self._fees
        if fees is not None and time.monotonic() - fees.at < self.ttl:
            return fees
        async with self._lock:
            if self._fees is not None and time.monotonic() - self._fees.at < self.ttl:
                return self._fees
            max_fee, tip = await offered_fees(node)
            self._fees = Fees(max_fee=max_fee, tip=tip, at=time.monotonic())
            return self._fees

    def for_nonce(self, nonce: int, bump: int, current: Fees) -> tuple[int, int]:
        """(max_fee, tip) to sign for `nonce` at replacement step `bump`, and remember them."""
        max_fee, tip = bumped(current.max_fee, current.tip, bump)
        previous = self._signed.get(nonce)
        if bump > 0 and previous is not None:
            # At least one step above what this process last signed for the nonce, even if fees fell.
            floor_fee, floor_tip = bumped(previous[0], previous[1], 1)
            max_fee, tip = max(max_fee, floor_fee), max(tip, floor_tip)
        tip = max(1, min(tip, max_fee))
        self._signed[nonce] = (max_fee, tip)
        self._signed.move_to_end(nonce)
        while len(self._signed) > _REMEMBERED_NONCES:
            self._signed.popitem(last=False)
        return max_fee, tip
