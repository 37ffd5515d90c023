"""Settlement.executeMixerDeposit on anvil: the treasury deposits a commitment into an allow-listed pool, once."""

from __future__ import annotations

import time

import pytest
from eth_abi import decode as abi_decode
from eth_utils import keccak

from adapters.chain import settlement as st
from adapters.chain.rpc import HttpNode
from adapters.mixer.deploy import deploy_mixer
from adapters.mixer.note import Note
from adapters.mixer.pool import DEPOSIT_TOPIC, MixerPool

from .ops import NATIVE, Actor, events, intent, payment, read_uint, sign_mixer_deposit, topic_address

pytestmark = pytest.mark.anvil

DENOMINATION = 10**17


@pytest.fixture(scope="module")
async def w(anvil_stack):
    node = HttpNode(anvil_stack.url)
    d = anvil_stack.deployment
    mixer = await deploy_mixer(node, anvil_stack.owner_key, DENOMINATION)

    class W:
        pass

    w = W()
    w.node, w.chain_id, w.contract, w.pool, w.usdc = node, d.chain_id, d.settlement, mixer.mixer, d.tokens["USDC"]
    w.owner = Actor(node, anvil_stack.owner_key, d.chain_id)
    w.executor_key = anvil_stack.executor_key
    w.submitter = Actor(node, anvil_stack.executor_key, d.chain_id)  # only the executor may submit
    w.reader = MixerPool(node, mixer.mixer, anvil_stack.anvil.keys[5], chain_id=d.chain_id)
    epoch = await read_uint(node, d.settlement, "executorEpoch()")

    def data(p, commitment, *, signed_commitment=None, deadline=None):
        deadline = deadline or int(time.time()) + 3600
        sig = sign_mixer_deposit(w.executor_key, w.chain_id, w.contract, p,
                                 commitment if signed_commitment is None else signed_commitment, deadline, epoch)
        return st.mixer_deposit_calldata(p, commitment, deadline, sig)

    w.data = data
    yield w
    await node.close()


def note(chain_id: int) -> int:
    return Note.generate("cro", "0.1", chain_id).commitment


async def test_only_allow_listed_pools_and_only_by_the_owner(w):
    p = payment(intent("mix-unlisted"), NATIVE, w.pool, DENOMINATION)
    name, _ = await w.submitter.revert_of(w.contract, w.data(p, note(w.chain_id)))
    assert name == "NotAMixerPool"
    name, _ = await w.submitter.revert_of(w.contract, st.set_mixer_pool_calldata(w.pool))
    assert name == "OwnableUnauthorizedAccount"  # the executor cannot allow-list a pool
    receipt = await w.owner.send(w.contract, st.set_mixer_pool_calldata(w.pool))
    assert receipt["status"] == 1
    # Pools hold the native coin: a token payment to an allowed pool is refused too.
    name, _ = await w.submitter.revert_of(
        w.contract, w.data(payment(intent("mix-token"), w.usdc, w.pool, DENOMINATION), note(w.chain_id)))
    assert name == "NotAMixerPool"


async def test_treasury_deposits_exactly_the_denomination_once(w):
    await w.owner.send(w.contract, st.set_mixer_pool_calldata(w.pool))
    commitment = note(w.chain_id)
    p = payment(intent("mix"), NATIVE, w.pool, DENOMINATION)
    treasury, pool = await w.node.balance(w.contract), await w.node.balance(w.pool)
    leaves = await w.reader.next_index()

    receipt = await w.submitter.send(w.contract, w.data(p, commitment), gas=1_500_000)
    assert receipt["status"] == 1
    assert await w.node.balance(w.contract) == treasury - DENOMINATION
    assert await w.node.balance(w.pool) == pool + DENOMINATION
    [(name, topics, data)] = events(receipt, w.contract)
    assert name == "PaymentExecuted" and topics[0] == p[0] and topic_address(topics[2]) == w.pool
    assert abi_decode(["uint256"], data)[0] == DENOMINATION
    deposit = [log for log in receipt["logs"] if log.address.lower() == w.pool.lower() and log.topics[0] == DEPOSIT_TOPIC]
    assert len(deposit) == 1 and int.from_bytes(deposit[0].topics[1], "big") == commitment
    assert abi_decode(["uint32", "uint256"], deposit[0].data)[0] == leaves
    assert [e.commitment for e in await w.reader.deposits(receipt["block_number"], receipt["block_number"])] == [commitment]

    # The same authorisation again pays nothing; a new intent for the same commitment is the pool's refusal.
    assert (await w.submitter.revert_of(w.contract, w.data(p, commitment)))[0] == "IntentAlreadyExecuted"
    again = payment(intent("mix-again"), NATIVE, w.pool, DENOMINATION)
    _, reason = await w.submitter.revert_of(w.contract, w.data(again, commitment))
    assert reason[:4] == keccak(text="CommitmentExists()")[:4]
    assert await w.node.balance(w.contract) == treasury - DENOMINATION


async def test_the_signature_binds_the_commitment_and_the_pool_checks_the_amount(w):
    await w.owner.send(w.contract, st.set_mixer_pool_calldata(w.pool))
    mine, theirs = note(w.chain_id), note(w.chain_id)
    p = payment(intent("mix-bound"), NATIVE, w.pool, DENOMINATION)
    # Someone holding the executor's signature for `mine` cannot spend it on a note of their own.
    assert (await w.submitter.revert_of(w.contract, w.data(p, theirs, signed_commitment=mine)))[0] == "InvalidSignature"
    wrong = payment(intent("mix-wrong"), NATIVE, w.pool, DENOMINATION + 1)
    _, reason = await w.submitter.revert_of(w.contract, w.data(wrong, mine))
    assert reason[:4] == keccak(text="WrongValue(uint256,uint256)")[:4]
    assert (await w.submitter.revert_of(w.contract, w.data(p, mine, deadline=int(time.time()) - 1)))[0] == \
        "AuthorizationExpired"
