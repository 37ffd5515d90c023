"""Settlement.sol on anvil: every revert path and event of execute, executeBatch, funding and owner calls.
(Who may do what, the executor epoch and replays of failed payments: test_settlement_roles.py and
test_settlement_replay.py.)"""

from __future__ import annotations

import time

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak

from adapters.chain import settlement as st
from adapters.chain.batches import (
    BatchRows, execute_batch_calldata, execute_batch_typed_data, is_row_paid_calldata, pack_row,
)
from adapters.chain.rpc import HttpNode

from .ops import (
    NATIVE, ZERO, Actor, address_of, call_data, events, failed_reason, intent, payment, read_uint, row_id, rows_of,
    rows_paid, sign_batch, sign_execute, token_balance, topic_address,
)

pytestmark = pytest.mark.anvil

PAY = f"execute({st.PAYMENT_TUPLE},uint256,bytes)"


class World:
    def __init__(self, stack, node):
        d = stack.deployment
        self.node, self.chain_id, self.contract = node, d.chain_id, d.settlement
        self.usdc, self.wcro = d.tokens["USDC"], d.tokens["WCRO"]
        self.owner = Actor(node, stack.owner_key, d.chain_id)
        self.executor_key = stack.executor_key
        self.executor = Actor(node, stack.executor_key, d.chain_id)
        self.stranger = Actor(node, stack.anvil.keys[5], d.chain_id)
        self.fresh = iter(range(1, 10**6))
        self.epoch = 0  # the contract's executorEpoch: read by the fixture, kept in step by the tests that rotate

    def recipient(self) -> str:
        return "0x" + keccak(text=f"recipient-{next(self.fresh)}-{time.perf_counter_ns()}")[12:].hex()

    def deadline(self, offset: int = 3600) -> int:
        return int(time.time()) + offset

    def execute_data(self, p, deadline=None, key=None, signature=None) -> bytes:
        deadline = deadline if deadline is not None else self.deadline()
        sig = signature if signature is not None else sign_execute(
            key or self.executor_key, self.chain_id, self.contract, p, deadline, self.epoch)
        return call_data(PAY, [st.PAYMENT_TUPLE, "uint256", "bytes"], [p, deadline, sig])

    def batch_data(self, items, deadline=None, key=None) -> bytes:
        """executeBatch calldata for (row id, token, recipient, amount) items."""
        deadline = deadline if deadline is not None else self.deadline()
        batch = rows_of(items)
        sig = sign_batch(key or self.executor_key, self.chain_id, self.contract, batch, deadline, self.epoch)
        return execute_batch_calldata(batch, deadline, sig)

    async def row_paid(self, row: int) -> bool:
        out = await self.node.call({"to": self.contract, "data": is_row_paid_calldata(row)})
        return int.from_bytes(out, "big") == 1

    async def executed(self, h: bytes) -> bool:
        out = await self.node.call({"to": self.contract, "data": st.executed_calldata("0x" + h.hex())})
        return int.from_bytes(out, "big") == 1


@pytest.fixture(scope="module")
async def w(anvil_stack):
    node = HttpNode(anvil_stack.url)
    world = World(anvil_stack, node)
    world.epoch = await read_uint(node, world.contract, "executorEpoch()")
    world.reverting = await world.owner.deploy("RevertingRecipient")
    world.burner = await world.owner.deploy("GasBurningRecipient")
    world.odd = await world.owner.deploy("NonStandardToken")
    await world.owner.send(world.odd, call_data("mint(address,uint256)", ["address", "uint256"],
                                                [world.contract, 10**24]))
    yield world
    await node.close()


# ---------------------------------------------------------------- execute
async def test_execute_native_pays_and_emits(w):
    to, h = w.recipient(), intent("native")
    p = payment(h, NATIVE, to, 5 * 10**18)
    r = await w.executor.send(w.contract, w.execute_data(p))
    assert r["status"] == 1
    assert await w.node.balance(to) == 5 * 10**18
    [(name, topics, data)] = events(r, w.contract)
    assert name == "PaymentExecuted"
    assert topics[0] == h and topic_address(topics[1]) == ZERO and topic_address(topics[2]).lower() == to.lower()
    assert int.from_bytes(data, "big") == 5 * 10**18
    assert await w.executed(h)
    print(f"\ngas: single native execute to a fresh account = {r['gas_used']}")


async def test_execute_erc20_pays(w):
    to, h = w.recipient(), intent("usdc")
    before = await token_balance(w.node, w.usdc, w.contract)
    r = await w.executor.send(w.contract, w.execute_data(payment(h, w.usdc, to, 2_500_000)))
    assert r["status"] == 1
    assert await token_balance(w.node, w.usdc, to) == 2_500_000
    assert await token_balance(w.node, w.usdc, w.contract) == before - 2_500_000
    assert events(r, w.contract)[0][0] == "PaymentExecuted"
    print(f"\ngas: single ERC-20 execute to a fresh holder = {r['gas_used']}")


async def test_execute_replay_is_refused(w):
    p = payment(intent("replay"), NATIVE, w.recipient(), 10**15)
    data = w.execute_data(p)
    assert (await w.executor.send(w.contract, data))["status"] == 1
    name, raw = await w.executor.revert_of(w.contract, data)
    assert name == "IntentAlreadyExecuted" and raw[4:] == p[0]


async def test_expired_authorisation(w):
    deadline = w.deadline(-3600)
    name, raw = await w.executor.revert_of(
        w.contract, w.execute_data(payment(intent("old"), NATIVE, w.recipient(), 1), deadline=deadline))
    assert name == "AuthorizationExpired" and int.from_bytes(raw[4:], "big") == deadline


async def test_wrong_signer_and_malformed_signature(w):
    p = payment(intent("forged"), NATIVE, w.recipient(), 10**18)
    assert (await w.executor.revert_of(w.contract, w.execute_data(p, key=w.stranger.key)))[0] == "InvalidSignature"
    assert (await w.executor.revert_of(w.contract, w.execute_data(p, signature=b"\x01" * 10)))[0] == "InvalidSignature"
    good = sign_execute(w.executor_key, w.chain_id, w.contract, p, 2**40, w.epoch)
    tampered = payment(p[0], NATIVE, w.recipient(), 10**18)  # same signature, other recipient
    name, _ = await w.executor.revert_of(w.contract, w.execute_data(tampered, deadline=2**40, signature=good))
    assert name == "InvalidSignature"


async def test_insufficient_balance_names_token_and_amounts(w):
    available = await token_balance(w.node, w.usdc, w.contract)
    p = payment(intent("big"), w.usdc, w.recipient(), available + 1)
    name, raw = await w.executor.revert_of(w.contract, w.execute_data(p))
    assert name == "InsufficientBalance"
    token, have, need = abi_decode(["address", "uint256", "uint256"], raw[4:])
    assert token.lower() == w.usdc.lower() and have == available and need == available + 1
    native = await w.node.balance(w.contract)
    name, raw = await w.executor.revert_of(w.contract, w.execute_data(payment(intent("big2"), NATIVE, w.recipient(), native + 1)))
    assert name == "InsufficientBalance" and abi_decode(["address", "uint256", "uint256"], raw[4:])[1] == native


async def test_zero_amount_and_zero_recipient(w):
    assert (await w.executor.revert_of(w.contract, w.execute_data(payment(intent("z"), NATIVE, w.recipient(), 0))))[0] == "ZeroAmount"
    assert (await w.executor.revert_of(w.contract, w.execute_data(payment(intent("z0"), NATIVE, ZERO, 1))))[0] == "ZeroRecipient"


async def test_refusing_recipients_make_execute_revert(w):
    for target in (w.reverting, w.burner):
        h = intent("refuse")
        name, raw = await w.executor.revert_of(w.contract, w.execute_data(payment(h, NATIVE, target, 10**18)))
        assert name == "TransferFailed" and raw[4:] == h


async def test_non_standard_tokens(w):
    to = w.recipient()
    r = await w.executor.send(w.contract, w.execute_data(payment(intent("usdt-like"), w.odd, to, 7)))
    assert r["status"] == 1 and await token_balance(w.node, w.odd, to) == 7  # no return value: accepted
    set_mode = lambda m: call_data("setMode(uint8)", ["uint8"], [m])  # noqa: E731
    for mode in (1, 2):  # returns false, reverts
        await w.owner.send(w.odd, set_mode(mode))
        name, _ = await w.executor.revert_of(w.contract, w.execute_data(payment(intent("odd"), w.odd, to, 7)))
        assert name == "TransferFailed"
    await w.owner.send(w.odd, set_mode(0))


# ---------------------------------------------------------------- executeBatch (bulk rows: row id, token, recipient, amount)
async def test_batch_pays_good_rows_and_reports_each_failure(w):
    treasury_native = await w.node.balance(w.contract)
    paid_before = (row_id(), NATIVE, w.recipient(), 10**15)
    assert (await w.executor.send(w.contract, w.batch_data([paid_before])))["status"] == 1
    treasury_native -= 10**15
    good = [(row_id(), NATIVE, w.recipient(), 10**16), (row_id(), w.usdc, w.recipient(), 10**6)]
    dup = good[0]
    refuse = (row_id(), NATIVE, w.reverting, 10**17)
    burn = (row_id(), NATIVE, w.burner, 10**17)
    zero = (row_id(), NATIVE, w.recipient(), 0)
    nobody = (row_id(), NATIVE, ZERO, 5)
    too_much = (row_id(), w.wcro, w.recipient(), 10**40)
    odd_fail = (row_id(), w.odd, w.recipient(), 1)
    await w.owner.send(w.odd, call_data("setMode(uint8)", ["uint8"], [1]))
    items = [good[0], refuse, burn, zero, nobody, too_much, paid_before, dup, odd_fail, good[1]]
    r = await w.executor.send(w.contract, w.batch_data(items), gas=3_000_000)
    await w.owner.send(w.odd, call_data("setMode(uint8)", ["uint8"], [0]))
    assert r["status"] == 1
    evs = events(r, w.contract)
    assert [e[0] for e in evs if e[0] != "RowsPaid"] == [
        "RowFailed", "RowFailed", "RowFailed", "RowFailed", "RowFailed", "RowSkipped", "RowSkipped", "RowFailed",
    ]
    reasons = [st.error_name(failed_reason(e[2])) for e in evs if e[0] == "RowFailed"]
    assert reasons == ["TransferFailed", "TransferFailed", "ZeroAmount", "ZeroRecipient", "InsufficientBalance", "TransferFailed"]
    failed = [int.from_bytes(e[1][0], "big") for e in evs if e[0] == "RowFailed"]
    assert failed == [refuse[0], burn[0], zero[0], nobody[0], too_much[0], odd_fail[0]]
    assert [int.from_bytes(e[1][0], "big") for e in evs if e[0] == "RowSkipped"] == [paid_before[0], dup[0]]
    assert rows_paid(r, w.contract) == {good[0][0], good[1][0]}
    # refused funds stay in the treasury; refused rows stay unpaid (retryable)
    assert await w.node.balance(w.contract) == treasury_native - 10**16
    assert await w.node.balance(w.reverting) == 0 and await w.node.balance(w.burner) == 0
    for p in (refuse, burn, zero, nobody, too_much, odd_fail):
        assert not await w.row_paid(p[0])
    assert await w.row_paid(good[0][0]) and await w.row_paid(good[1][0])
    # a refused row can be retried once its cause is gone
    assert (await w.executor.send(w.contract, w.batch_data([odd_fail])))["status"] == 1
    assert await w.row_paid(odd_fail[0])


async def test_batch_rows_and_single_intents_are_separate_keys(w):
    # execute keys on the intent hash, executeBatch on the row id: neither marks the other's key paid.
    a = payment(intent("single"), NATIVE, w.recipient(), 10**15)
    assert (await w.executor.send(w.contract, w.execute_data(a)))["status"] == 1
    row = (row_id(), NATIVE, w.recipient(), 10**15)
    r = await w.executor.send(w.contract, w.batch_data([row]))
    assert rows_paid(r, w.contract) == {row[0]} and not await w.executed(bytes(32))
    assert (await w.executor.revert_of(w.contract, w.execute_data(a)))[0] == "IntentAlreadyExecuted"


async def test_batch_wide_reverts(w):
    ps = [(row_id(), NATIVE, w.recipient(), 1)]
    assert (await w.executor.revert_of(w.contract, w.batch_data(ps, deadline=w.deadline(-3600))))[0] == "AuthorizationExpired"
    assert (await w.executor.revert_of(w.contract, w.batch_data(ps, key=w.stranger.key)))[0] == "InvalidSignature"
    signed = w.batch_data(ps)
    other = w.batch_data([(ps[0][0], NATIVE, w.recipient(), 1)])
    forged = other[: len(other) - 96] + signed[len(signed) - 96:]  # someone else's recipient, the real signature
    assert (await w.executor.revert_of(w.contract, forged))[0] == "InvalidSignature"
    # malformed lists (only the executor could sign them, but the contract still refuses them)
    deadline = w.deadline()
    token_twice = BatchRows((NATIVE, NATIVE), (pack_row(row_id(), w.recipient(), 0), pack_row(row_id(), w.recipient(), 1)),
                            (1, 1))
    uneven = BatchRows((NATIVE,), (pack_row(row_id(), w.recipient(), 0),), (1, 2))
    for bad in (token_twice, uneven):
        sig = sign_batch(w.executor_key, w.chain_id, w.contract, bad, deadline, w.epoch)
        assert (await w.executor.revert_of(w.contract, execute_batch_calldata(bad, deadline, sig)))[0] == "BadBatch"


async def test_digests_match_eip712(w):
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak as k

    p = payment(intent("digest"), w.usdc, w.recipient(), 123)
    typed = st.execute_typed_data(w.chain_id, w.contract, p, 999, epoch=w.epoch)
    msg = encode_typed_data(full_message=typed)
    expected = k(b"\x19" + msg.version + msg.header + msg.body)
    got = await w.node.call({"to": w.contract, "data": call_data(
        f"executeDigest({st.PAYMENT_TUPLE},uint256)", [st.PAYMENT_TUPLE, "uint256"], [p, 999])})
    assert got == expected
    batch = rows_of([(row_id(), w.usdc, w.recipient(), 123), (row_id(), NATIVE, w.recipient(), 1)])
    msg = encode_typed_data(full_message=execute_batch_typed_data(w.chain_id, w.contract, batch, 5, epoch=w.epoch))
    got = await w.node.call({"to": w.contract, "data": call_data(
        "executeBatchDigest(address[],uint256[],uint256[],uint256)", ["address[]", "uint256[]", "uint256[]", "uint256"],
        [list(batch.tokens), list(batch.rows), list(batch.amounts), 5])})
    assert got == k(b"\x19" + msg.version + msg.header + msg.body)


async def test_gas_per_payout_in_a_200_row_native_batch(w):
    ps = [(row_id(), NATIVE, w.recipient(), 10**12) for i in range(200)]
    r = await w.executor.send(w.contract, w.batch_data(ps), gas=16_000_000)
    assert r["status"] == 1 and rows_paid(r, w.contract) == {p[0] for p in ps}
    # the same recipients again (accounts already exist): the cheaper, common case of repeat payees
    again = [(row_id(), NATIVE, p[2], 10**12) for p in ps]
    r2 = await w.executor.send(w.contract, w.batch_data(again), gas=16_000_000)
    print(f"\ngas: 200-row native batch = {r['gas_used']} ({r['gas_used'] / 200:.0f} per payout, fresh recipients); "
          f"{r2['gas_used'] / 200:.0f} per payout to existing accounts")
    assert r["gas_used"] / 200 < 40_000  # test_bulk_gas.py holds it to 1.10x a bare Disperse loop


# ---------------------------------------------------------------- funding
# Escrowed intents (fundIntent, fundIntentToken, release, refund): test_escrow_contract.py.
async def test_plain_deposit_is_accepted(w):
    before = await w.node.balance(w.contract)
    assert (await w.stranger.send(w.contract, value=10**18, gas=60_000))["status"] == 1
    assert await w.node.balance(w.contract) == before + 10**18


# ---------------------------------------------------------------- owner
async def test_owner_only_functions(w):
    set_exec = lambda a: call_data("setExecutor(address)", ["address"], [a])  # noqa: E731
    sweep = lambda t, to, n: call_data("sweep(address,address,uint256)", ["address", "address", "uint256"], [t, to, n])  # noqa: E731
    assert (await w.stranger.revert_of(w.contract, set_exec(w.stranger.address)))[0] == "OwnableUnauthorizedAccount"
    assert (await w.executor.revert_of(w.contract, sweep(NATIVE, w.stranger.address, 1)))[0] == "OwnableUnauthorizedAccount"
    assert (await w.owner.revert_of(w.contract, set_exec(ZERO)))[0] == "ZeroExecutor"

    p = payment(intent("rotated"), NATIVE, w.recipient(), 1)
    r = await w.owner.send(w.contract, set_exec(w.stranger.address))
    [(name, topics, _)] = events(r, w.contract)
    assert name == "ExecutorChanged" and topic_address(topics[0]) == w.executor.address
    assert topic_address(topics[1]) == w.stranger.address
    w.epoch += 1
    try:
        assert (await w.stranger.revert_of(w.contract, w.execute_data(p)))[0] == "InvalidSignature"
        assert (await w.stranger.revert_of(w.contract, w.execute_data(p, key=w.stranger.key)))[0] is None
        assert (await w.executor.revert_of(w.contract, w.execute_data(p, key=w.stranger.key)))[0] == "NotExecutor"
    finally:
        await w.owner.send(w.contract, set_exec(w.executor.address))
        w.epoch += 1

    to = w.recipient()
    r = await w.owner.send(w.contract, sweep(NATIVE, to, 10**18))
    assert events(r, w.contract)[0][0] == "Swept" and await w.node.balance(to) == 10**18
    await w.owner.send(w.contract, sweep(w.usdc, to, 10**6))
    assert await token_balance(w.node, w.usdc, to) == 10**6
    too_much = sweep(NATIVE, to, await w.node.balance(w.contract) + 1)
    assert (await w.owner.revert_of(w.contract, too_much))[0] == "InsufficientBalance"
    assert (await w.owner.revert_of(w.contract, sweep(NATIVE, ZERO, 1)))[0] == "ZeroRecipient"
    assert (await w.owner.revert_of(w.contract, sweep(NATIVE, to, 0)))[0] == "ZeroAmount"
    assert (await w.owner.revert_of(w.contract, sweep(NATIVE, w.reverting, 1)))[0] == "TransferFailed"


async def test_constructor_refuses_zero_executor(w):
    from eth_abi import encode as abi_encode

    from adapters.chain import artifacts

    code = artifacts.load("Settlement").bytecode + abi_encode(["address", "address"], [w.owner.address, ZERO])
    r = await w.owner.send(None, code)
    assert r["status"] == 0
    same = artifacts.load("Settlement").bytecode + abi_encode(["address", "address"], [w.owner.address] * 2)
    name, _ = await w.owner.revert_of(None, same)
    assert name == "ExecutorIsOwner"
