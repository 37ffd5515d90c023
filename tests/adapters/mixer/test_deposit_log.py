"""The commitment tree restored from the database's deposit log, synced incrementally, rebuilt when it disagrees."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from adapters.db import create_engine_for, upgrade
from adapters.db.mixer_repositories import SqlDepositLog
from adapters.db.mixer_tables import MixerDepositRow
from adapters.mixer.sync import REORG_MARGIN, TreeOutOfSync, TreeSync
from tests.fixtures.databases import *  # noqa: F403

from .test_pool import deposit_note

pytestmark = pytest.mark.anvil


@pytest.fixture
async def deposit_log(empty_db_url):
    await upgrade(empty_db_url)
    engine = create_engine_for(empty_db_url)
    yield SqlDepositLog(engine)
    await engine.dispose()


class CountingPool:
    """The relayer's pool, recording which block ranges of Deposit events were asked for."""

    def __init__(self, pool) -> None:
        self._pool, self.ranges = pool, []

    def __getattr__(self, name):
        return getattr(self._pool, name)

    async def deposits(self, from_block, to_block=None):
        self.ranges.append((from_block, to_block))
        return await self._pool.deposits(from_block, to_block)


async def mine(stack, blocks: int) -> None:
    await stack.node.request("anvil_mine", [hex(blocks)])


async def test_restart_restores_the_tree_from_the_database_and_reads_only_new_blocks(mixer_stack, deposit_log):
    await mine(mixer_stack, 3 * REORG_MARGIN)  # so "from the start" and "from the last deposit" differ
    await deposit_note(mixer_stack)
    await mine(mixer_stack, 3 * REORG_MARGIN)
    first = TreeSync(mixer_stack.relayer, deposit_log=deposit_log)
    await first.sync()
    stored, synced = await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address)
    assert len(stored) == len(first.tree) > 0 and synced == first.synced_block
    assert stored == first.events

    pool = CountingPool(mixer_stack.relayer)
    restored = TreeSync(pool, deposit_log=deposit_log)  # a restart
    assert await restored.sync() == []
    assert restored.tree.root == first.tree.root == await mixer_stack.relayer.last_root()
    # The first sync after a restart re-reads from the newest stored deposit (it must come back the same),
    # not from the pool's creation block.
    assert pool.ranges[0][0] == stored[-1].block_number > mixer_stack.deployment.block_number
    synced = restored.synced_block

    note, index = await deposit_note(mixer_stack)
    pool.ranges.clear()
    new = await restored.sync()
    assert [(e.commitment, e.leaf_index) for e in new] == [(note.commitment, index)]
    assert pool.ranges == [(synced + 1 - REORG_MARGIN, restored.synced_block)]  # new blocks and the margin
    assert restored.tree.root == await mixer_stack.relayer.last_root()
    stored, synced = await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address)
    assert [e.leaf_index for e in stored] == list(range(len(restored.tree))) and synced == restored.synced_block


async def test_a_stored_deposit_the_chain_disagrees_with_is_rebuilt_not_trusted(mixer_stack, deposit_log):
    await deposit_note(mixer_stack)
    await TreeSync(mixer_stack.relayer, deposit_log=deposit_log).sync()
    table = MixerDepositRow.__table__
    count = len((await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address))[0])
    # As after a reorg, or a database that outlived the chain it described: the newest leaf differs.
    async with deposit_log._engine.begin() as connection:
        await connection.execute(update(table).where(table.c.leaf_index == count - 1).values(commitment="0x" + "1" * 64))
    restored = TreeSync(mixer_stack.relayer, deposit_log=deposit_log)
    with pytest.raises(TreeOutOfSync):
        await restored.sync()
    await restored.resync()
    assert restored.tree.root == await mixer_stack.relayer.last_root()
    stored, _ = await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address)
    assert stored == restored.events

    # A gap in the stored leaves is ignored too: the tree is read from the chain and stored whole again.
    async with deposit_log._engine.begin() as connection:
        await connection.execute(table.delete().where(table.c.leaf_index == 0))
    gapped = TreeSync(mixer_stack.relayer, deposit_log=deposit_log)
    await gapped.sync()
    assert gapped.tree.root == await mixer_stack.relayer.last_root()
    assert (await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address))[0] == gapped.events


async def test_the_tree_syncs_from_the_chain_while_the_database_is_away(mixer_stack, deposit_log):
    class Away:
        async def load(self, *args):
            raise ConnectionError("database down")

        append = replace = load

    sync = TreeSync(mixer_stack.relayer, deposit_log=Away())
    await sync.sync()
    assert sync.tree.root == await mixer_stack.relayer.last_root()
    # Back again: the next write stores the whole tree, not only what is new since.
    sync.deposit_log = deposit_log
    await deposit_note(mixer_stack)
    await sync.sync()
    stored, _ = await deposit_log.load(mixer_stack.chain_id, mixer_stack.relayer.address)
    assert stored == sync.events and len(stored) == len(sync.tree)
