"""Keeps a CommitmentTree equal to a pool's on-chain tree by replaying its Deposit events incrementally."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cache import EventCache
from .pool import DepositEvent, MixerPool
from .tree import CommitmentTree


class TreeOutOfSync(Exception):
    """The events seen do not rebuild the chain's tree (a gap, a reorg, or a node missing logs)."""


@dataclass
class TreeSync:
    """The tree, and the last block whose deposits it holds. `events` are kept so a cache can store them."""

    pool: MixerPool
    tree: CommitmentTree = field(default_factory=CommitmentTree)
    synced_block: int = -1
    events: list[DepositEvent] = field(default_factory=list)
    cache: EventCache | None = None

    def __post_init__(self) -> None:
        cached = self.cache.load() if self.cache else None
        if cached:
            events, synced_block = cached
            try:
                self._apply(sorted(events, key=lambda e: e.leaf_index))
                self.synced_block = synced_block
            except TreeOutOfSync:
                self.tree, self.events = CommitmentTree(), []

    async def sync(self) -> list[DepositEvent]:
        """Fetches deposits after `synced_block` and appends them; returns the new ones."""
        latest = await self.pool.block_number()
        if latest <= self.synced_block:
            return []
        new = await self.pool.deposits(max(self.synced_block + 1, self.pool.deployed_block), latest)
        new = [e for e in new if e.leaf_index >= len(self.tree)]
        self._apply(new)
        self.synced_block = latest
        if new and self.cache:
            self.cache.save(self.events, latest)
        return new

    def _apply(self, events: list[DepositEvent]) -> None:
        for event in events:
            if event.leaf_index != len(self.tree):
                raise TreeOutOfSync(f"deposit #{event.leaf_index} arrived while the tree has {len(self.tree)} leaves")
            self.tree.append(event.commitment)
            self.events.append(event)

    async def check(self) -> bool:
        """Whether the chain knows our root (it keeps the last 30)."""
        return await self.pool.is_known_root(self.tree.root)

    async def resync(self) -> None:
        """Forget everything and rebuild from the pool's creation block."""
        self.tree, self.synced_block, self.events = CommitmentTree(), -1, []
        await self.sync()
        if self.cache:
            self.cache.save(self.events, self.synced_block)
