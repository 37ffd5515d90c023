"""H1 on anvil: the calldata of a payment that failed on chain cannot be replayed later to pay it after all.

A recipient (or mixer pool) that reverts only inside mined transactions (tx.gasprice > 0) lets the bot's
eth_call simulation pass while the mined transaction fails, as an attacker would arrange. The recipient is then
opened, and a third party sends the old calldata again: nothing may be paid. Only the executor may submit
authorisations, and the executor's own failed transaction used up its nonce, so it cannot be mined again.
"""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from adapters.chain import connect
from adapters.chain import settlement as st
from adapters.chain.rpc import HttpNode
from core.ports import PaymentOrder

from .ops import Actor, call_data, row_id

pytestmark = pytest.mark.anvil

AMOUNT = 10**15


def intent_hash() -> str:
    return "0x" + secrets.token_hex(32)


class World:
    node: HttpNode
    chain: object
    owner: Actor
    stranger: Actor

    async def dodger(self) -> str:
        """A fresh SimulationDodger: refuses payments in mined transactions until someone opens it."""
        return await self.owner.deploy("SimulationDodger")

    async def open(self, dodger: str) -> None:
        assert (await self.stranger.send(dodger, call_data("setOpen(bool)", ["bool"], [True])))["status"] == 1

    async def calldata(self, tx_hash: str) -> bytes:
        return (await self.node.transaction(tx_hash))["input"]

    async def replay(self, old: bytes, gas: int) -> dict:
        """The stranger sends the old calldata. Beforehand, show the authorisation would still pay if the
        sender were the executor (so what stops the replay is who sent it, nothing else)."""
        executor = Actor(self.node, "0x" + "11" * 32, 0)
        executor.address = self.chain.executor
        assert (await executor.revert_of(self.chain.treasury, old)) == (None, b"")
        return await self.stranger.send(self.chain.treasury, old, gas=gas)

    async def counter(self, dodger: str, view: str) -> int:
        return int.from_bytes(await self.node.call({"to": dodger, "data": call_data(view, [], [])}), "big")


@pytest.fixture(scope="module")
async def w(anvil_stack):
    d = anvil_stack.deployment
    world = World()
    world.node = HttpNode(anvil_stack.url)
    world.chain = await connect(anvil_stack.url, anvil_stack.executor_key, d.settlement,
                                tokens=",".join(f"{s}={a}" for s, a in d.tokens.items()))
    world.owner = Actor(world.node, anvil_stack.owner_key, d.chain_id)
    world.stranger = Actor(world.node, anvil_stack.anvil.keys[4], d.chain_id)  # any funded third party
    yield world
    await world.chain.close()
    await world.node.close()


async def fails_on_chain(w: World, sign) -> tuple[str, object]:
    """Sign through the bot's own path (which simulates first), broadcast, and return the mined receipt."""
    signed = await sign(await w.chain.pending_nonce())
    assert await w.chain.broadcast(signed.raw) == signed.tx_hash
    receipt = await w.chain.wait_for_receipt(signed.tx_hash, 10)
    assert receipt is not None
    return signed.tx_hash, receipt


async def test_h1_failed_payment_calldata_cannot_be_replayed(w):
    dodger = await w.dodger()
    order = PaymentOrder(intent_hash(), dodger, w.chain.tokens.native, AMOUNT)
    tx_hash, receipt = await fails_on_chain(w, lambda nonce: w.chain.sign_payment(order, nonce))
    assert not receipt.ok  # SnowRail reports it failed
    old = await w.calldata(tx_hash)

    await w.open(dodger)
    replay = await w.replay(old, gas=300_000)

    assert await w.node.balance(dodger) == 0
    assert not await w.chain.is_paid(order.intent_hash)
    assert replay["status"] == 0
    assert (await w.stranger.revert_of(w.chain.treasury, old))[0] == "NotExecutor"
    # The reason was read by replaying the failed transaction with its own fee fields, so it is the real one.
    assert "refused the transfer" in receipt.reason


async def test_h1_failed_batch_item_calldata_cannot_be_replayed(w):
    dodger = await w.dodger()
    paid = PaymentOrder(intent_hash(), Account.create().address, w.chain.tokens.native, AMOUNT, row_id=row_id())
    refused = PaymentOrder(intent_hash(), dodger, w.chain.tokens.native, AMOUNT, row_id=row_id())
    tx_hash, receipt = await fails_on_chain(w, lambda nonce: w.chain.sign_batch([paid, refused], nonce))
    assert receipt.ok and receipt.paid_rows == {paid.row_id}
    assert [row for row, _ in receipt.failed_rows] == [refused.row_id]  # reported failed
    old = await w.calldata(tx_hash)

    await w.open(dodger)
    replay = await w.replay(old, gas=1_000_000)

    assert await w.node.balance(dodger) == 0
    assert not await w.chain.is_row_paid(refused.row_id)
    assert await w.node.balance(paid.recipient) == AMOUNT
    assert replay["status"] == 0
    assert (await w.stranger.revert_of(w.chain.treasury, old))[0] == "NotExecutor"


async def test_h1_failed_mixer_deposit_calldata_cannot_be_replayed(w):
    pool = await w.dodger()  # answers deposit(uint256) like a pool, and refuses it in mined transactions
    allow = await w.owner.send(w.chain.treasury, st.set_mixer_pool_calldata(pool, True), gas=100_000)
    assert allow["status"] == 1
    try:
        order = PaymentOrder(intent_hash(), pool, w.chain.tokens.native, AMOUNT,
                             mixer_commitment="0x" + secrets.token_hex(31).rjust(64, "0"))
        tx_hash, receipt = await fails_on_chain(w, lambda nonce: w.chain.sign_payment(order, nonce))
        assert not receipt.ok
        old = await w.calldata(tx_hash)

        await w.open(pool)
        replay = await w.replay(old, gas=1_500_000)

        assert await w.counter(pool, "deposits()") == 0
        assert await w.node.balance(pool) == 0
        assert not await w.chain.is_paid(order.intent_hash)
        assert replay["status"] == 0
        assert (await w.stranger.revert_of(w.chain.treasury, old))[0] == "NotExecutor"
    finally:
        await w.owner.send(w.chain.treasury, st.set_mixer_pool_calldata(pool, False), gas=100_000)
