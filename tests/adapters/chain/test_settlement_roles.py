"""M1 and H1 on anvil: who may do what on the Settlement. The owner is a separate key set in the constructor and
moved in two steps; the executor can only execute, and only the executor may; rotating the executor kills every
signature made before, even when the same key comes back."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_utils import keccak

from adapters.chain import Web3Chain, connect
from adapters.chain import settlement as st
from adapters.chain.deploy import deploy_stack
from adapters.chain.rpc import HttpNode
from core.errors import ChainRejected
from core.ports import PaymentOrder

from .ops import (
    NATIVE, ZERO, Actor, address_of, batch_call, call_data, events, intent, payment, read_address, read_uint,
    row_id, rows_of, sign_execute, sign_mixer_deposit, topic_address,
)

pytestmark = pytest.mark.anvil

EXECUTE = f"execute({st.PAYMENT_TUPLE},uint256,bytes)"


def set_executor(address: str) -> bytes:
    return call_data("setExecutor(address)", ["address"], [address])


def transfer_ownership(address: str) -> bytes:
    return call_data("transferOwnership(address)", ["address"], [address])


ACCEPT = call_data("acceptOwnership()", [], [])


class Stack:
    """A fresh Settlement per test: owner = dev account 2, executor A = dev account 3, stranger = account 4."""

    def __init__(self, node: HttpNode, keys: list[str], chain_id: int, settlement: str) -> None:
        self.node, self.chain_id, self.contract = node, chain_id, settlement
        self.owner = Actor(node, keys[2], chain_id)
        self.executor = Actor(node, keys[3], chain_id)
        self.stranger = Actor(node, keys[4], chain_id)

    def deadline(self) -> int:
        return int(time.time()) + 3600

    def execute(self, p: tuple, epoch: int, key: str | None = None) -> bytes:
        deadline = self.deadline()
        sig = sign_execute(key or self.executor.key, self.chain_id, self.contract, p, deadline, epoch)
        return call_data(EXECUTE, [st.PAYMENT_TUPLE, "uint256", "bytes"], [p, deadline, sig])

    def batch(self, items: list[tuple], epoch: int) -> bytes:
        """executeBatch calldata for (row id, token, recipient, amount) items."""
        return batch_call(self.executor.key, self.chain_id, self.contract, rows_of(items), self.deadline(), epoch)

    def deposit(self, p: tuple, commitment: int, epoch: int) -> bytes:
        deadline = self.deadline()
        sig = sign_mixer_deposit(self.executor.key, self.chain_id, self.contract, p, commitment, deadline, epoch)
        return st.mixer_deposit_calldata(p, commitment, deadline, sig)

    async def epoch(self) -> int:
        return await read_uint(self.node, self.contract, "executorEpoch()")


@pytest.fixture
async def s(anvil):
    node = HttpNode(anvil.url)
    d = await deploy_stack(node, anvil.keys[2], executor=address_of(anvil.keys[3]), treasury_native=10**18)
    yield Stack(node, anvil.keys, d.chain_id, d.settlement)
    await node.close()


def recipient() -> str:
    return Account.create().address


async def test_m1_owner_is_set_in_the_constructor(s):
    assert await read_address(s.node, s.contract, "owner()") == s.owner.address
    assert await read_address(s.node, s.contract, "pendingOwner()") == ZERO
    assert await read_address(s.node, s.contract, "executor()") == s.executor.address
    assert await s.epoch() == 0


async def test_m1_ownership_transfer_is_two_step(s):
    heir = Actor(s.node, s.stranger.key, s.chain_id)
    r = await s.owner.send(s.contract, transfer_ownership(heir.address))
    assert [e[0] for e in events(r, s.contract)] == ["OwnershipTransferStarted"]
    assert await read_address(s.node, s.contract, "owner()") == s.owner.address  # nothing moved yet
    assert await read_address(s.node, s.contract, "pendingOwner()") == heir.address
    assert (await s.executor.revert_of(s.contract, ACCEPT))[0] == "OwnableUnauthorizedAccount"
    r = await heir.send(s.contract, ACCEPT)
    [(name, topics, _)] = events(r, s.contract)
    assert name == "OwnershipTransferred" and topic_address(topics[1]) == heir.address
    assert await read_address(s.node, s.contract, "owner()") == heir.address
    assert await read_address(s.node, s.contract, "pendingOwner()") == ZERO


async def test_m1_the_executor_never_becomes_owner(s):
    assert (await s.owner.revert_of(s.contract, transfer_ownership(s.executor.address)))[0] == "ExecutorIsOwner"
    assert (await s.owner.revert_of(s.contract, set_executor(s.owner.address)))[0] == "ExecutorIsOwner"
    # A transfer started before its address became the executor cannot be accepted afterwards.
    await s.owner.send(s.contract, transfer_ownership(s.stranger.address))
    await s.owner.send(s.contract, set_executor(s.stranger.address))
    assert (await s.stranger.revert_of(s.contract, ACCEPT))[0] == "ExecutorIsOwner"
    r = await s.stranger.send(s.contract, ACCEPT, gas=200_000)
    assert r["status"] == 0 and await read_address(s.node, s.contract, "owner()") == s.owner.address
    with pytest.raises(ValueError, match="must be a different key"):
        await deploy_stack(s.node, s.owner.key)  # owner and executor both default to the deployer


async def test_m1_executor_can_only_execute(s):
    to = recipient()
    owner_only = {
        "sweep": call_data("sweep(address,address,uint256)", ["address", "address", "uint256"], [NATIVE, to, 1]),
        "setExecutor": set_executor(to),
        "setMixerPool": st.set_mixer_pool_calldata(to, True),
        "renounceOwnership": call_data("renounceOwnership()", [], []),
        "transferOwnership": transfer_ownership(to),
        "acceptOwnership": ACCEPT,
    }
    for what, data in owner_only.items():
        assert (await s.executor.revert_of(s.contract, data))[0] == "OwnableUnauthorizedAccount", what
    treasury = await s.node.balance(s.contract)
    r = await s.executor.send(s.contract, owner_only["sweep"], gas=200_000)  # mined, too: it reverts
    assert r["status"] == 0 and await s.node.balance(s.contract) == treasury and await s.node.balance(to) == 0
    assert await read_address(s.node, s.contract, "owner()") == s.owner.address


async def test_h1_only_the_executor_may_submit(s):
    pool = await s.owner.deploy("SimulationDodger")
    await s.owner.send(s.contract, st.set_mixer_pool_calldata(pool, True))
    await s.stranger.send(pool, call_data("setOpen(bool)", ["bool"], [True]))
    signed = {
        "execute": s.execute(payment(intent("x"), NATIVE, recipient(), 10), 0),
        "executeBatch": s.batch([(row_id(), NATIVE, recipient(), 10)], 0),
        "executeMixerDeposit": s.deposit(payment(intent("m"), NATIVE, pool, 10), 7, 0),
    }
    for what, data in signed.items():
        assert (await s.executor.revert_of(s.contract, data)) == (None, b""), what  # a valid authorisation
        assert (await s.stranger.revert_of(s.contract, data))[0] == "NotExecutor", what
        assert (await s.owner.revert_of(s.contract, data))[0] == "NotExecutor", what


async def test_m1_rotating_the_executor_invalidates_old_signatures(s):
    pool = await s.owner.deploy("SimulationDodger")
    await s.owner.send(s.contract, st.set_mixer_pool_calldata(pool, True))
    await s.stranger.send(pool, call_data("setOpen(bool)", ["bool"], [True]))
    p = payment(intent("rotate"), NATIVE, recipient(), 10)
    old = {"execute": s.execute(p, 0), "executeBatch": s.batch([(row_id(), *p[1:])], 0),
           "executeMixerDeposit": s.deposit(payment(p[0], NATIVE, pool, 10), 7, 0)}
    for data in old.values():
        assert (await s.executor.revert_of(s.contract, data)) == (None, b"")

    b = Account.create().address
    r = await s.owner.send(s.contract, set_executor(b))
    assert events(r, s.contract)[0][0] == "ExecutorChanged" and await s.epoch() == 1
    await s.owner.send(s.contract, set_executor(s.executor.address))  # A again
    assert await s.epoch() == 2

    for what, data in old.items():
        assert (await s.executor.revert_of(s.contract, data))[0] == "InvalidSignature", what
    r = await s.executor.send(s.contract, old["execute"], gas=200_000)
    assert r["status"] == 0 and await s.node.balance(p[2]) == 0
    assert (await s.executor.revert_of(s.contract, s.execute(p, 2))) == (None, b"")  # signed for epoch 2: fine


async def test_m1_web3chain_signs_for_the_epoch_after_a_rotation(s, anvil):
    chain = await connect(anvil.url, s.executor.key, s.contract)
    stranger = await connect(anvil.url, s.stranger.key, s.contract)
    try:
        async def pay(c: Web3Chain) -> PaymentOrder:
            o = PaymentOrder("0x" + keccak(text=f"w3-{time.perf_counter_ns()}").hex(), recipient(), c.tokens.native, 10)
            signed = await c.sign_payment(o, await c.pending_nonce())
            await c.broadcast(signed.raw)
            assert (await c.wait_for_receipt(signed.tx_hash, 10)).paid == {o.intent_hash}
            return o

        await pay(chain)  # the epoch (0) is now cached
        await s.owner.send(s.contract, set_executor(Account.create().address))
        await s.owner.send(s.contract, set_executor(s.executor.address))
        await pay(chain)  # refused as InvalidSignature in simulation, re-read the epoch (2), signed again
        assert await chain.onchain_epoch() == 2

        with pytest.raises(ChainRejected, match="only the Settlement contract's executor may submit"):
            await stranger.sign_payment(
                PaymentOrder("0x" + "ab" * 32, recipient(), stranger.tokens.native, 10), await stranger.pending_nonce())
    finally:
        await chain.close()
        await stranger.close()
