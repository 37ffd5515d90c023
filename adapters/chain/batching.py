"""What bulk payouts ask of a chain beyond core.ports.Chain: a fee estimate per gas and chunk sizing."""

from __future__ import annotations

import asyncio
from typing import Any

from .client import Web3Chain, batch_capacity


class BatchingChain:
    """A Web3Chain (every attribute passes through) plus `fee_per_gas()` and `batch_capacity`."""

    def __init__(self, chain: Web3Chain) -> None:
        self._chain = chain
        self.batch_capacity = batch_capacity()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    @property
    def inner(self) -> Web3Chain:
        return self._chain

    async def fee_per_gas(self) -> int:
        """What a transaction signed now offers per gas at most: twice the base fee plus the tip."""
        node = self._chain.node
        base, tip = await asyncio.gather(node.base_fee(), node.priority_fee())
        return 2 * base + tip
