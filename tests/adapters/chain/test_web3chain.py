"""Web3Chain against eth-tester (in-process) and anvil: signing, broadcasting, receipts, reverts, replacement."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from adapters.chain import settlement as st
from adapters.chain import (
    NonceAlreadyUsed, Web3Chain, batch_capacity, batch_gas_limit, build, chunk_orders, connect, dev_chain,
)
from adapters.chain.deploy import deploy_stack
from adapters.chain.rpc import HttpNode
from adapters.chain.tokens import parse_tokens_setting, token_registry
from core.errors import ChainRejected, ChainUnavailable, UserError
from core.ports import PaymentOrder

from .ops import Actor, row_id

REPO = Path(__file__).resolve().parents[3]


def intent_hash(label: str) -> str:
    return "0x" + keccak(text=f"{label}-{time.perf_counter_ns()}").hex()


def fresh_address() -> str:
    return Account.create().address


def order(chain: Web3Chain, symbol: str, units: int, to: str | None = None, label: str = "o") -> PaymentOrder:
    return PaymentOrder(intent_hash(label), to or fresh_address(), chain.tokens.get(symbol), units)


def row(chain: Web3Chain, symbol: str, units: int, to: str | None = None, label: str = "r") -> PaymentOrder:
    """A bulk row's order: paid by executeBatch under its own row id."""
    return PaymentOrder(intent_hash(label), to or fresh_address(), chain.tokens.get(symbol), units, row_id=row_id())


async def pay(chain: Web3Chain, o: PaymentOrder, nonce: int | None = None):
    nonce = await chain.pending_nonce() if nonce is None else nonce
    signed = await chain.sign_payment(o, nonce)
    assert await chain.broadcast(signed.raw) == signed.tx_hash
    return signed, await chain.wait_for_receipt(signed.tx_hash, 10)


# ---------------------------------------------------------------- eth-tester
@pytest.fixture(scope="module")
def tester():
    chain, deployment = dev_chain()  # how fast: bench/console_cold.py, not a timed assert here
    return chain, deployment


async def test_tester_pays_native_and_token(tester):
    chain, deployment = tester
    assert chain.chain_id == deployment.chain_id and chain.treasury == deployment.settlement
    assert await chain.onchain_executor() == chain.executor
    for symbol, units in (("CRO", 5 * 10**18), ("USDC", 2_500_000), ("WCRO", 10**17)):
        o = order(chain, symbol, units)
        signed, receipt = await pay(chain, o)
        assert signed.tx_hash.startswith("0x") and len(signed.tx_hash) == 66
        assert receipt.ok and receipt.paid == {o.intent_hash} and receipt.failed == ()
        assert receipt.fee > 0 and receipt.gas_used > 0 and receipt.block_number > 0
        assert await chain.balance(o.recipient, o.token) == units
        assert await chain.is_paid(o.intent_hash)
        assert await chain.broadcast(signed.raw) == signed.tx_hash  # re-sending mined bytes is not an error


async def test_tester_owner_is_a_separate_key_and_paid_by_finds_the_payment(tester):
    chain, deployment = tester
    owner = Account.from_key(deployment.owner_key).address
    assert deployment.owner == owner and owner != chain.executor
    out = await chain.node.call({"to": chain.treasury, "data": st.OWNER})
    assert "0x" + out[12:32].hex() == owner.lower()
    assert deployment.owner_key not in repr(deployment)
    o = order(chain, "CRO", 10**15)
    assert await chain.paid_by(o.intent_hash) is None
    signed, _ = await pay(chain, o)
    assert await chain.paid_by(o.intent_hash) == signed.tx_hash


async def test_tester_refuses_before_signing(tester):
    chain, _ = tester
    o = order(chain, "USDC", 10**6)
    await pay(chain, o)
    with pytest.raises(ChainRejected, match="^this payment was already executed on chain$"):
        await chain.sign_payment(o, await chain.pending_nonce())
    held = await chain.balance(chain.treasury, chain.tokens.get("USDT"))
    with pytest.raises(ChainRejected) as info:
        await chain.sign_payment(order(chain, "USDT", held + 1), await chain.pending_nonce())
    assert info.value.message == f"the treasury holds {held // 10**6} USDT; this payment needs {held // 10**6}.000001 USDT"


async def test_tester_batch_reports_refused_items(tester):
    chain, _ = tester
    held = await chain.balance(chain.treasury, chain.tokens.get("WCRO"))
    good = [row(chain, "CRO", 10**15, label=f"b{i}") for i in range(3)]
    too_much = row(chain, "WCRO", held + 1)
    signed = await chain.sign_batch([*good, too_much, good[0]], await chain.pending_nonce())
    await chain.broadcast(signed.raw)
    receipt = await chain.wait_for_receipt(signed.tx_hash, 10)
    assert receipt.ok and receipt.paid_rows == {o.row_id for o in good} and receipt.paid == frozenset()
    assert receipt.failed_rows[0][0] == too_much.row_id and receipt.failed_rows[0][1].startswith("the treasury holds")
    assert receipt.failed_rows[1] == (good[0].row_id, st.ALREADY_EXECUTED)
    assert not await chain.is_row_paid(too_much.row_id) and await chain.is_row_paid(good[0].row_id)
    # The transaction that paid each row, from its RowsPaid event (a row paid later is still credited to this one).
    again = await chain.sign_batch([good[1]], await chain.pending_nonce())
    await chain.broadcast(again.raw)
    assert (await chain.wait_for_receipt(again.tx_hash, 10)).failed_rows == ((good[1].row_id, st.ALREADY_EXECUTED),)
    assert await chain.rows_paid_by([o.row_id for o in good] + [too_much.row_id]) == {o.row_id: signed.tx_hash for o in good}


# ---------------------------------------------------------------- anvil
@pytest.fixture(scope="module")
async def chain(anvil_stack):
    d = anvil_stack.deployment
    tokens = ",".join(f"{s}={a}" for s, a in d.tokens.items())
    c = await connect(anvil_stack.url, anvil_stack.executor_key, d.settlement, tokens=tokens)
    yield c
    await c.close()


async def rpc(chain: Web3Chain, method: str, *params):
    return await chain.node.request(method, list(params))


async def test_anvil_sign_broadcast_receipt_round_trips(chain):
    """30 payments, each through pending_nonce, sign, broadcast and receipt (how fast: bench/pay_anvil.py)."""
    assert chain.chain_id == 31337 and chain.tokens.get("USDC").address
    for i in range(30):
        o = order(chain, "CRO" if i % 2 else "USDC", 10**6, label=f"lat{i}")
        _, receipt = await pay(chain, o)
        assert receipt.ok and receipt.paid == {o.intent_hash}


async def test_anvil_insufficient_balance_sentence(anvil_stack, chain):
    node = HttpNode(anvil_stack.url)
    small = await deploy_stack(node, anvil_stack.owner_key, executor=chain.executor, treasury_native=32 * 10**17)
    await node.close()
    poor = await connect(anvil_stack.url, anvil_stack.executor_key, small.settlement)
    try:
        with pytest.raises(ChainRejected) as info:
            await poor.sign_payment(order(poor, "CRO", 5 * 10**18), await poor.pending_nonce())
        assert info.value.message == "the treasury holds 3.2 CRO; this payment needs 5 CRO"
    finally:
        await poor.close()


async def test_anvil_replacement_mines_once(chain):
    o = order(chain, "CRO", 7 * 10**17, label="stuck")
    nonce = await chain.pending_nonce()
    await rpc(chain, "evm_setAutomine", False)
    try:
        first = await chain.sign_payment(o, nonce)
        await chain.broadcast(first.raw)
        second = await chain.sign_payment(o, nonce, bump=1)
        assert second.nonce == first.nonce and second.tx_hash != first.tx_hash
        assert await chain.broadcast(second.raw) == second.tx_hash
        assert await chain.broadcast(second.raw) == second.tx_hash  # "already known"
        await rpc(chain, "evm_mine")
    finally:
        await rpc(chain, "evm_setAutomine", True)
    replaced = await chain.wait_for_receipt(second.tx_hash, 5)
    assert replaced and replaced.ok and replaced.paid == {o.intent_hash}
    assert await chain.receipt(first.tx_hash) is None
    assert await chain.balance(o.recipient, o.token) == 7 * 10**17
    with pytest.raises(NonceAlreadyUsed):
        await chain.broadcast(first.raw)  # its nonce went to the replacement


async def test_anvil_reverted_transaction_has_a_reason(chain):
    o = order(chain, "CRO", 10**15, label="twice")
    nonce = await chain.pending_nonce()
    await rpc(chain, "evm_setAutomine", False)
    try:  # both simulate fine while neither is mined; the second must fail on chain
        a = await chain.sign_payment(o, nonce)
        b = await chain.sign_payment(o, nonce + 1)
        await chain.broadcast(a.raw)
        await chain.broadcast(b.raw)
        await rpc(chain, "evm_mine")
    finally:
        await rpc(chain, "evm_setAutomine", True)
    ra, rb = await chain.wait_for_receipt(a.tx_hash, 5), await chain.wait_for_receipt(b.tx_hash, 5)
    assert ra.ok and ra.paid == {o.intent_hash}
    assert not rb.ok and rb.reason == st.ALREADY_EXECUTED and rb.paid == frozenset() and rb.fee > 0


async def test_anvil_batch(anvil_stack, chain):
    actor = Actor(chain.node, anvil_stack.owner_key, chain.chain_id)
    reverting = await actor.deploy("RevertingRecipient")
    good = [row(chain, "CRO", 10**15, label=f"ab{i}") for i in range(5)]
    refused = row(chain, "CRO", 10**15, to=reverting)
    signed = await chain.sign_batch([good[0], refused, *good[1:]], await chain.pending_nonce())
    await chain.broadcast(signed.raw)
    receipt = await chain.wait_for_receipt(signed.tx_hash, 5)
    assert receipt.ok and receipt.paid_rows == {o.row_id for o in good}
    assert receipt.failed_rows == ((refused.row_id, st.revert_sentence(st.selector("TransferFailed(bytes32)") + b"\0" * 32, chain.tokens)),)
    assert "refused the transfer" in receipt.failed_rows[0][1]
    tokens = [row(chain, "USDC", 10**6, label=f"t{i}") for i in range(100)]
    signed = await chain.sign_batch(tokens, await chain.pending_nonce())
    await chain.broadcast(signed.raw)
    receipt = await chain.wait_for_receipt(signed.tx_hash, 5)
    assert len(receipt.paid_rows) == 100
    print(f"\ngas: 100-item USDC batch, {receipt.gas_used / 100:.0f} per payout (fresh holders)")


async def test_anvil_paid_by_names_the_transaction_that_paid(chain):
    single, in_batch, never = (order(chain, "CRO", 10**12, label=x) for x in ("pb-single", "pb-batch", "pb-never"))
    paid_single, _ = await pay(chain, single)
    batch = await chain.sign_batch([row(chain, "USDC", 1), row(chain, "CRO", 10**12)], await chain.pending_nonce())
    await chain.broadcast(batch.raw)
    assert (await chain.wait_for_receipt(batch.tx_hash, 5)).ok  # bulk rows are keyed by row id: no intent paid
    # Paid by one transaction, then a second one for the same intent reverted: paid_by names the first.
    nonce = await chain.pending_nonce()
    await rpc(chain, "evm_setAutomine", False)
    try:
        twice = order(chain, "CRO", 10**12, label="pb-twice")
        first, second = await chain.sign_payment(twice, nonce), await chain.sign_payment(twice, nonce + 1)
        await chain.broadcast(first.raw)
        await chain.broadcast(second.raw)
        await rpc(chain, "evm_mine")
    finally:
        await rpc(chain, "evm_setAutomine", True)
    assert not (await chain.wait_for_receipt(second.tx_hash, 5)).ok

    assert await chain.paid_by(single.intent_hash) == paid_single.tx_hash
    assert await chain.paid_by(in_batch.intent_hash) is None
    assert await chain.paid_by(twice.intent_hash) == first.tx_hash
    assert await chain.paid_by(never.intent_hash) is None


async def test_paid_by_walks_back_in_windows_when_the_node_caps_the_range():
    from adapters.chain import history
    from adapters.chain.rpc import RpcError

    class CappedNode:
        """Answers eth_getLogs over at most 2,000 blocks, as public nodes do; the event is at block 123,456."""

        def __init__(self) -> None:
            self.queries: list[tuple[int, int]] = []

        async def logs(self, address, topics, from_block, to_block):
            self.queries.append((from_block, to_block))
            if to_block - from_block + 1 > 2_000:
                raise RpcError("query exceeds max block range 2000")
            return [{"tx_hash": "0xpaid"}] if from_block <= 123_456 <= to_block else []

        async def code(self, address, block):
            return b"\x60" if block >= 100_000 else b""

    node = CappedNode()
    assert await history.deployment_block(node, "0x" + "22" * 20, 200_000) == 100_000
    assert await history.last_log_tx(node, "0x" + "22" * 20, [st.PAYMENT_EXECUTED], 100_000, 200_000) == "0xpaid"
    assert node.queries[0] == (100_000, 200_000) and all(hi - lo < 2_000 for lo, hi in node.queries[-3:])
    assert await history.last_log_tx(node, "0x" + "22" * 20, [st.PAYMENT_EXECUTED], 130_000, 200_000) is None


def test_batch_sizing():
    assert batch_capacity() == 167 and batch_gas_limit(167) <= 16_000_000
    orders = [PaymentOrder("0x" + "00" * 32, "0x" + "11" * 20, token_registry(1).native, 1)] * 400
    assert [len(c) for c in chunk_orders(orders)] == [167, 167, 66]


async def test_broadcast_many(chain):
    nonce = await chain.pending_nonce()
    orders = [order(chain, "CRO", 10**12, label=f"many{i}") for i in range(10)]
    signed = [await chain.sign_payment(o, nonce + i) for i, o in enumerate(orders)]
    hashes = await chain.broadcast_many([s.raw for s in signed])
    assert hashes == [s.tx_hash for s in signed]
    for s, o in zip(signed, orders, strict=True):
        assert (await chain.wait_for_receipt(s.tx_hash, 5)).paid == {o.intent_hash}


# ---------------------------------------------------------------- failure modes and small helpers
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_node_down_is_chain_unavailable_without_secrets(anvil_stack):
    key = anvil_stack.executor_key
    url = f"http://user:hunter2@127.0.0.1:{closed_port()}/v1/apikey-SECRET"
    with pytest.raises(ChainUnavailable) as info:
        await connect(url, key, anvil_stack.deployment.settlement)
    text = str(info.value) + repr(info.value.__cause__) + repr(info.value.__context__)
    assert "hunter2" not in text and "SECRET" not in text and key[2:] not in text
    offline = build(url, key, anvil_stack.deployment.settlement, chain_id=31337)
    assert "hunter2" not in repr(offline) and key[2:] not in repr(offline)
    try:
        with pytest.raises(ChainUnavailable):
            await offline.sign_payment(order(offline, "CRO", 1), 0)
        with pytest.raises(ChainUnavailable):
            await offline.wait_for_receipt("0x" + "00" * 32, 1)
    finally:
        await offline.close()


async def test_wrong_chain_id_is_refused(anvil_stack):
    with pytest.raises(ValueError, match="serves chain 31337"):
        await connect(anvil_stack.url, anvil_stack.executor_key, anvil_stack.deployment.settlement, chain_id=25)


def test_recover_signer(tester):
    chain, _ = tester
    alice, mallory = Account.create(), Account.create()
    message = "Link 0xabc to SnowRail user tg-1, code 12345"
    signature = "0x" + bytes(alice.sign_message(encode_defunct(text=message)).signature).hex()
    assert chain.recover_signer(message, signature) == alice.address
    assert chain.recover_signer(message, signature) != mallory.address
    assert chain.recover_signer(message + "!", signature) != alice.address
    for bad in ("", "0x1234", "hello", "0x" + "zz" * 65, "0x" + "ff" * 65):
        with pytest.raises(UserError) as info:
            chain.recover_signer(message, bad)
        assert info.value.field == "signature" and "signature" in info.value.message


def test_explorer_urls():
    key = "0x" + "11" * 32
    h = "0x" + "ab" * 32
    assert build("http://x", key, "0x" + "22" * 20, chain_id=25).explorer_url(h) == f"https://explorer.cronos.org/tx/{h}"
    assert build("http://x", key, "0x" + "22" * 20, chain_id=338).explorer_url(h) == f"https://explorer.cronos.org/testnet/tx/{h}"
    assert build("http://x", key, "0x" + "22" * 20, chain_id=31337).explorer_url(h) is None
    assert build("http://x", key, "0x" + "22" * 20, chain_id=31337, explorer_base="https://e.test/tx/").explorer_url(h) == f"https://e.test/tx/{h}"


def test_token_registries():
    mainnet = token_registry(25)
    assert mainnet.native.symbol == "CRO" and mainnet.get("USDC").decimals == 6 and mainnet.get("usdt").address
    testnet = token_registry(338, "USDC=0x" + "ab" * 20 + ",FOO:8=0x" + "cd" * 20)
    assert testnet.get("USDC").decimals == 6 and testnet.get("FOO").decimals == 8
    with pytest.raises(ValueError, match="decimals"):
        parse_tokens_setting("FOO=0x" + "ab" * 20)
    with pytest.raises(UserError):
        parse_tokens_setting("USDC=0x1234")


def test_sentences():
    reg = token_registry(25)
    usdc = reg.get("USDC").address
    insufficient = st.selector("InsufficientBalance(address,uint256,uint256)") + bytes.fromhex(
        usdc[2:].rjust(64, "0")) + (3_200_000).to_bytes(32, "big") + (5_000_000).to_bytes(32, "big")
    assert st.revert_sentence(insufficient, reg) == "the treasury holds 3.2 USDC; this payment needs 5 USDC"
    assert st.revert_sentence(st.selector("InvalidSignature()"), reg).startswith("the Settlement contract did not accept")
    assert "expired at 2001-09-09 01:46 UTC" in st.revert_sentence(
        st.selector("AuthorizationExpired(uint256)") + (10**9).to_bytes(32, "big"), reg)
    assert st.revert_sentence(st.selector("ZeroAmount()"), reg) == "the amount must be greater than zero"
    assert "zero address" in st.revert_sentence(st.selector("ZeroRecipient()"), reg)
    assert st.revert_sentence(b"", reg).startswith("the transaction was reverted without a reason")
    assert "unknown error 0xdeadbeef" in st.revert_sentence(bytes.fromhex("deadbeef"), reg)


def test_low_intent_funded_is_never_read_as_a_payment():
    """IntentFunded announces escrow held for an intent (even in a fake token), never a payout: receipts ignore it."""
    contract, h = "0x" + "22" * 20, b"\x01" * 32
    funded = st.Log(contract, (st.INTENT_FUNDED, h, b"\0" * 32, b"\0" * 32), (10**30).to_bytes(32, "big"))
    outcome = st.payout_outcome([funded], contract, token_registry(25))
    assert outcome.paid == frozenset() and outcome.paid_rows == frozenset() and outcome.failed_rows == ()


def test_artifacts_are_up_to_date():
    result = subprocess.run(["node", "contracts/compile.js", "--check"], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_bad_private_key_is_not_echoed():
    secret = "0x" + "ab" * 20
    with pytest.raises(ValueError) as info:
        build("http://127.0.0.1:1", secret, "0x" + "22" * 20, chain_id=1)
    assert "ab" * 20 not in str(info.value) and info.value.__cause__ is None


def test_anvil_dev_prints_settings_to_export():
    from adapters.chain.devnet import ANVIL_DEV_KEY, anvil_dev

    lines: list[str] = []
    process, deployment = anvil_dev(out=lines.append)
    try:
        exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
        assert exports["RPC_URL"] == process.url and exports["CHAIN_ID"] == "31337"
        assert exports["PRIVATE_KEY"] == ANVIL_DEV_KEY
        assert exports["SETTLEMENT_CONTRACT_ADDRESS"] == deployment.settlement
        assert set(deployment.tokens) == {"WCRO", "USDC", "USDT"}
        # The owner is a separate, generated key, printed once as a comment (never as a setting to export).
        [shown] = [line.split("owner key: ")[1] for line in lines if "owner key: " in line]
        assert Account.from_key(shown).address == deployment.owner != deployment.executor
        assert sum(shown in line for line in lines) == 1 and shown not in exports.values()
    finally:
        process.stop()
