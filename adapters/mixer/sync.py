"""Keeps a CommitmentTree equal to a pool's on-chain tree by replaying its Deposit events incrementally."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .pool import DepositEvent, MixerPool
from .ports import DepositLog
from .tree import CommitmentTree

# Blocks re-read on every sync, so a shallow reorg that dropped or moved a deposit we already hold is seen
# (the tree is then rebuilt). Cronos finalises in one block; anvil and Ethereum-like chains can reorg a few.
REORG_MARGIN = 12

log = logging.getLogger("snowrail.mixer")


class TreeOutOfSync(Exception):
    """The events seen do not rebuild the chain's tree (a gap, a reorg, or a node missing logs)."""


@dataclass
class TreeSync:
    """The tree, and the last block whose deposits it holds. With a `deposit_log` (the database), the deposits and
    that block survive restarts: the first sync then re-reads only from the last stored deposit on. The log
    only saves work: when the database is away the tree still syncs from the chain, and is stored whole
    once the database is back."""

    pool: MixerPool
    tree: CommitmentTree = field(default_factory=CommitmentTree)
    synced_block: int = -1
    events: list[DepositEvent] = field(default_factory=list)
    deposit_log: DepositLog | None = None
    _restored: bool = field(default=False, repr=False)
    _verify_from: int | None = field(default=None, repr=False)
    _unsaved: bool = field(default=False, repr=False)  # the log missed a write: store everything next time

    async def _restore(self) -> None:
        self._restored = True
        try:
            stored = await self.deposit_log.load(self.pool.chain_id, self.pool.address) if self.deposit_log else None
        except Exception as e:  # noqa: BLE001 - the chain has every deposit; the log only saves reading it
            log.warning("mixer deposit log unreadable for %s (%s); reading the chain", self.pool.address,
                        type(e).__name__)
            stored, self._unsaved = None, True
        if not stored:
            return
        rows, synced_block = stored
        events = [DepositEvent(*row) for row in rows]
        try:
            self._apply(sorted(events, key=lambda e: e.leaf_index))
        except TreeOutOfSync:  # a gap in the stored rows: rebuild from the chain
            self.tree, self.events, self._unsaved = CommitmentTree(), [], True
            return
        self.synced_block = synced_block
        # The store may predate a reorg or even another chain with this id (a restarted anvil): the first
        # sync re-reads from the newest stored deposit, which must come back identical.
        self._verify_from = self.events[-1].block_number if self.events else None

    async def sync(self) -> list[DepositEvent]:
        """Fetches deposits after `synced_block` (re-reading the last REORG_MARGIN blocks) and appends them;
        returns the new ones. Raises TreeOutOfSync when a deposit already held is gone or changed."""
        if not self._restored:
            await self._restore()
        latest = await self.pool.block_number()
        if latest < self.synced_block:
            raise TreeOutOfSync(f"the chain is at block {latest}, behind the {self.synced_block} already synced")
        if latest == self.synced_block and self._verify_from is None:
            return []
        start = max(self.synced_block + 1 - REORG_MARGIN, 0)
        if self._verify_from is not None:
            start = min(start, self._verify_from)
        start = max(start, self.pool.deployed_block)
        fetched = await self.pool.deposits(start, latest)
        held = {e.leaf_index: e.commitment for e in self.events if e.block_number >= start}
        seen = {e.leaf_index: e.commitment for e in fetched if e.leaf_index < len(self.tree)}
        if held != seen:
            raise TreeOutOfSync(f"deposits held from block {start} on differ from the chain's (a reorg?)")
        moved = [e for e in fetched if e.leaf_index < len(self.tree) and e != self.events[e.leaf_index]]
        for event in moved:  # same leaf and commitment, re-mined in another block or transaction
            self.events[event.leaf_index] = event
        new = [e for e in fetched if e.leaf_index >= len(self.tree)]
        self._apply(new)
        self.synced_block, self._verify_from = latest, None
        await self._save(moved + new)
        return new

    async def _save(self, changed: list[DepositEvent], *, whole: bool = False) -> None:
        if self.deposit_log is None:
            return
        try:
            if whole or self._unsaved:
                await self.deposit_log.replace(self.pool.chain_id, self.pool.address, self.events, self.synced_block)
            else:
                await self.deposit_log.append(self.pool.chain_id, self.pool.address, changed, self.synced_block)
            self._unsaved = False
        except Exception as e:  # noqa: BLE001 - see the class docstring
            log.warning("mixer deposit log not written for %s (%s); will store it whole next time",
                        self.pool.address, type(e).__name__)
            self._unsaved = True

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
        self._restored, self._verify_from = True, None
        latest = await self.pool.block_number()
        self._apply(await self.pool.deposits(self.pool.deployed_block, latest))
        self.synced_block = latest
        await self._save(self.events, whole=True)
