"""[CONTROLS] on anvil: the Settlement caps what the executor pays out per token and period. Only the owner sets the
cap; an execution beyond it reverts with ExecutorAllowanceExceeded (a batch row is reported in RowFailed and
stays unpaid; a mixer deposit counts against the native coin); a new period refills it; unset means no cap.

Periods here are short (a minute) and time moves forward by little, because the anvil node is shared by the
session and other tests sign deadlines an hour ahead of the wall clock."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_utils import keccak

from adapters.chain import Web3Chain
from adapters.chain import settlement as st
from adapters.chain.batches import is_row_paid_calldata
from adapters.chain.deploy import deploy_stack
from adapters.chain.rpc import HttpNode
from core.money import Token

from .ops import (
    NATIVE, address_of, call_data, events, failed_reason, intent, payment, row_id, rows_paid, sel,
)
from .test_settlement_roles import Stack

pytestmark = pytest.mark.anvil

UINT256_MAX = 2**256 - 1
ALLOWANCE_SET = keccak(text="ExecutorAllowanceSet(address,uint256,uint256,uint256)")


@pytest.fixture
async def s(anvil):
    node = HttpNode(anvil.url)
    d = await deploy_stack(node, anvil.keys[2], executor=address_of(anvil.keys[3]), treasury_native=10**18)
    yield Stack(node, anvil.keys, d.chain_id, d.settlement)
    await node.close()


def set_allowance(token: str, amount: int, period: int) -> bytes:
    return st.set_executor_allowance_calldata(token, amount, period)


async def allowance_of(s: Stack, token: str) -> tuple[int, int, int, int]:
    return st.decode_executor_allowance(await s.node.call({"to": s.contract, "data": st.executor_allowance_calldata(token)}))


async def remaining(s: Stack, token: str) -> tuple[int, int]:
    out = await s.node.call({"to": s.contract, "data": call_data("remainingAllowance(address)", ["address"], [token])})
    left, refills = abi_decode(["uint256", "uint256"], out)
    return left, refills


def exceeded(data: bytes) -> tuple[str, int, int, int]:
    assert st.error_name(data) == "ExecutorAllowanceExceeded", st.error_name(data)
    token, left, required, refills = abi_decode(["address", "uint256", "uint256", "uint256"], data[4:])
    return token, left, required, refills


async def advance(s: Stack, seconds: int) -> None:
    await s.node.request("evm_increaseTime", [seconds])
    await s.node.request("evm_mine", [])


async def test_only_the_owner_sets_the_allowance_and_it_is_announced(s):
    data = set_allowance(NATIVE, 100, 60)
    for who in (s.executor, s.stranger):
        name, _ = await who.revert_of(s.contract, data)
        assert name == "OwnableUnauthorizedAccount"
        receipt = await who.send(s.contract, data, gas=200_000)
        assert receipt["status"] == 0
    assert await allowance_of(s, NATIVE) == (0, 0, 0, 0)  # still unset
    receipt = await s.owner.send(s.contract, data, gas=200_000)
    assert receipt["status"] == 1
    (log,) = [log for log in receipt["logs"] if log.topics and log.topics[0] == ALLOWANCE_SET]
    amount, period, start = abi_decode(["uint256", "uint256", "uint256"], log.data)
    assert (amount, period) == (100, 60)
    assert await allowance_of(s, NATIVE) == (100, 60, 0, start)
    name, _ = await s.owner.revert_of(s.contract, set_allowance(NATIVE, 100, 0))
    assert name == "InvalidAllowance"  # a cap needs a period


async def test_unset_means_no_cap(s):
    assert await remaining(s, NATIVE) == (UINT256_MAX, 0)
    p = payment(intent("free"), NATIVE, address_of(s.stranger.key), 5 * 10**17)
    receipt = await s.executor.send(s.contract, s.execute(p, 0), gas=300_000)
    assert receipt["status"] == 1


async def test_an_execution_beyond_the_allowance_reverts_and_a_new_period_refills_it(s):
    await s.owner.send(s.contract, set_allowance(NATIVE, 1_000, 60))
    to = address_of(s.stranger.key)
    first = payment(intent("a"), NATIVE, to, 700)
    assert (await s.executor.send(s.contract, s.execute(first, 0), gas=300_000))["status"] == 1
    _, _, spent, start = await allowance_of(s, NATIVE)
    assert spent == 700
    over = payment(intent("b"), NATIVE, to, 301)
    name, data = await s.executor.revert_of(s.contract, s.execute(over, 0))
    assert exceeded(data) == (NATIVE, 300, 301, start + 60)
    receipt = await s.executor.send(s.contract, s.execute(over, 0), gas=300_000)
    assert receipt["status"] == 0
    out = await s.node.call({"to": s.contract, "data": st.executed_calldata("0x" + over[0].hex())})
    assert int.from_bytes(out[:32], "big") == 0  # not paid, still payable later
    assert st.revert_sentence(data, _tokens()).startswith("the executor's on-chain allowance has ")

    await advance(s, 61)  # a new window: the allowance refills
    assert (await remaining(s, NATIVE))[0] == 1_000
    assert (await s.executor.send(s.contract, s.execute(over, 0), gas=300_000))["status"] == 1
    amount, period, spent, new_start = await allowance_of(s, NATIVE)
    assert (amount, period, spent) == (1_000, 60, 301) and new_start == start + 60  # windows stay aligned


async def test_a_batch_item_beyond_the_allowance_is_reported_and_stays_unexecuted(s):
    await s.owner.send(s.contract, set_allowance(NATIVE, 1_000, 60))
    to = address_of(s.stranger.key)
    ps = [(row_id(), NATIVE, to, amount) for amount in (600, 500, 400)]
    receipt = await s.executor.send(s.contract, s.batch(ps, 0), gas=1_000_000)
    assert receipt["status"] == 1
    got = events(receipt, s.contract)
    assert [name for name, _, _ in got] == ["RowFailed", "RowsPaid"]
    (_, topics, data) = got[0]
    assert int.from_bytes(topics[0], "big") == ps[1][0]
    token, left, required, _ = exceeded(failed_reason(data))
    assert (token, left, required) == (NATIVE, 400, 500)
    assert rows_paid(receipt, s.contract) == {ps[0][0], ps[2][0]}
    for p, paid in zip(ps, (1, 0, 1)):
        out = await s.node.call({"to": s.contract, "data": is_row_paid_calldata(p[0])})
        assert int.from_bytes(out[:32], "big") == paid
    assert (await allowance_of(s, NATIVE))[2] == 1_000  # counted per batch, written once
    # The receipt reads as the bot reads it: the row failed with a plain sentence.
    outcome = st.payout_outcome(receipt["logs"], s.contract, _tokens())
    assert dict(outcome.failed_rows)[ps[1][0]].startswith("the executor's on-chain allowance has ")


async def test_a_batch_item_whose_transfer_fails_gives_its_allowance_back(s):
    refuser = await s.owner.deploy("RevertingRecipient")
    await s.owner.send(s.contract, set_allowance(NATIVE, 1_000, 60))
    ps = [(row_id(), NATIVE, refuser, 600), (row_id(), NATIVE, address_of(s.stranger.key), 900)]
    receipt = await s.executor.send(s.contract, s.batch(ps, 0), gas=1_000_000)
    assert [name for name, _, _ in events(receipt, s.contract)] == ["RowFailed", "RowsPaid"]
    assert (await allowance_of(s, NATIVE))[2] == 900


async def test_a_batch_over_the_allowance_pays_rows_until_it_runs_out_across_tokens(s):
    # Two tokens in one batch, each with its own cap; nothing refused is counted; each total is written once.
    await s.owner.send(s.contract, set_allowance(NATIVE, 1_000, 60))
    usdc = await s.owner.deploy("TestToken", ["string", "string", "uint8", "address"],
                                ["USD Coin", "USDC", 6, s.owner.address])
    await s.owner.send(usdc, call_data("mint(address,uint256)", ["address", "uint256"], [s.contract, 10**12]))
    await s.owner.send(s.contract, set_allowance(usdc, 50, 60))
    to = address_of(s.stranger.key)
    ps = [(row_id(), NATIVE, to, 700), (row_id(), usdc, to, 30), (row_id(), usdc, to, 30), (row_id(), NATIVE, to, 300),
          (row_id(), usdc, to, 20), (row_id(), NATIVE, to, 1)]
    receipt = await s.executor.send(s.contract, s.batch(ps, 0), gas=1_000_000)
    assert rows_paid(receipt, s.contract) == {ps[i][0] for i in (0, 1, 3, 4)}
    assert [exceeded(failed_reason(d))[1:3] for n, _, d in events(receipt, s.contract) if n == "RowFailed"] == [
        (20, 30), (0, 1)]
    assert (await allowance_of(s, NATIVE))[2] == 1_000 and (await allowance_of(s, usdc))[2] == 50


async def test_a_mixer_deposit_counts_against_the_native_allowance(s):
    pool = await s.owner.deploy("SimulationDodger")
    await s.owner.send(s.contract, st.set_mixer_pool_calldata(pool, True))
    await s.stranger.send(pool, call_data("setOpen(bool)", ["bool"], [True]))
    await s.owner.send(s.contract, set_allowance(NATIVE, 10, 60))
    name, data = await s.executor.revert_of(s.contract, s.deposit(payment(intent("m"), NATIVE, pool, 11), 7, 0))
    assert exceeded(data)[:3] == (NATIVE, 10, 11)
    receipt = await s.executor.send(s.contract, s.deposit(payment(intent("m2"), NATIVE, pool, 10), 8, 0), gas=500_000)
    assert receipt["status"] == 1
    assert (await remaining(s, NATIVE))[0] == 0


async def test_web3chain_reads_the_allowance(s, anvil):
    chain = Web3Chain(HttpNode(anvil.url), anvil.keys[3], s.contract, chain_id=s.chain_id)
    try:
        native = chain.tokens.native
        assert await chain.executor_allowance(native) is None  # no cap set
        await s.owner.send(s.contract, set_allowance(NATIVE, 5 * 10**18, 3_600))
        a = await chain.executor_allowance(native)
        assert a is not None and (a.amount, a.period, a.spent, a.remaining) == (5 * 10**18, 3_600, 0, 5 * 10**18)
        _, refills = await remaining(s, NATIVE)
        assert int(a.refills_at.timestamp()) == refills
    finally:
        await chain.close()


def _tokens():
    from core.money import TokenRegistry

    return TokenRegistry([Token("CRO", 18, native=True)])


def test_setter_selector_is_the_issue_s_name():
    assert st.SET_EXECUTOR_ALLOWANCE == sel("setExecutorAllowance(address,uint256,uint256)")
