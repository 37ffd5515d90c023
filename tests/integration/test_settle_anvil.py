"""Settling on a real node (anvil): a payment paid by a copy of its authorisation is recorded paid (H3)."""

from __future__ import annotations

import time

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
import pytest
from web3 import Web3

from bot.bootstrap import build
from core.model import IntentStatus
from tests.integration.test_pay_live import balance, fresh_address, rpc, say, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]


@pytest.fixture
def db(new_postgres_database):
    return new_postgres_database()


def _mined(url: str, tx_hash: str, timeout: float = 10.0) -> dict:
    """The receipt once the node has mined the transaction (anvil automines, but not always before it answers)."""
    deadline = time.monotonic() + timeout
    while (receipt := rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        assert time.monotonic() < deadline, f"{tx_hash} was not mined within {timeout} s"
        time.sleep(0.02)
    return receipt


class CopyMinedFirst:
    """The real chain, except that before our transaction is sent, the executor sends the very same calldata
    (the signed authorisation) in another transaction with an earlier nonce, and it is mined first."""

    def __init__(self, chain, url: str, executor_key: str, nonce: int) -> None:
        self._chain, self._url, self._key, self._nonce = chain, url, executor_key, nonce
        self.copy_hash: str | None = None
        self.ours: list[str] = []

    def __getattr__(self, name):
        return getattr(self._chain, name)

    async def broadcast(self, raw: bytes) -> str:
        if self.copy_hash is None:
            ours = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            copy = {k: ours[k] for k in ("chainId", "to", "value", "data", "gas", "maxFeePerGas", "maxPriorityFeePerGas")}
            signed = Account.sign_transaction({**copy, "type": 2, "nonce": self._nonce}, self._key)
            self.copy_hash = rpc(self._url, "eth_sendRawTransaction", [HexBytes(signed.raw_transaction).to_0x_hex()])
            assert int(_mined(self._url, self.copy_hash)["status"], 16) == 1
        self.ours.append(Web3.to_hex(Web3.keccak(raw)))
        return await self._chain.broadcast(raw)


async def test_h3_a_copy_mined_first_makes_the_payment_paid_not_failed(anvil_stack, db, tmp_path):
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path))
    try:
        chain = app.engine.services.chain
        # Another sender of the executor holds the next nonce (reserved, not yet sent): the copy will use it.
        async with app.uow() as uow:
            gap = await uow.nonces.reserve(chain.chain_id, chain.executor, await chain.pending_nonce())
            await uow.commit()
        copier = CopyMinedFirst(chain, anvil_stack.url, anvil_stack.executor_key, gap)
        app.engine.services.chain = copier
        to = fresh_address()
        reply = await say(app, f"/pay {to} 0.4")
        assert copier.copy_hash is not None
        async with app.uow() as uow:
            (intent,) = await uow.intents.for_actor("console:op", 1)
        (our_hash,) = copier.ours
        ours = rpc(anvil_stack.url, "eth_getTransactionReceipt", [our_hash])
        assert int(ours["status"], 16) == 0  # ours was mined and reverted (IntentAlreadyExecuted)
        assert intent.status is IntentStatus.CONFIRMED, intent.error
        assert intent.tx_hash == copier.copy_hash and copier.copy_hash in reply.plain()
        assert reply.kind == "ok", reply.plain()
        assert balance(anvil_stack.url, to) == 4 * 10**17  # paid exactly once
    finally:
        await app.close()


class SendFirst:
    """The real chain, except that `before` runs once just before our first transaction is sent."""

    def __init__(self, chain, before) -> None:
        self._chain, self._before, self.ran = chain, before, False

    def __getattr__(self, name):
        return getattr(self._chain, name)

    async def broadcast(self, raw: bytes) -> str:
        if not self.ran:
            self.ran = True
            self._before(TypedTransaction.from_bytes(HexBytes(raw)).as_dict())
        return await self._chain.broadcast(raw)


async def test_h2_an_executor_out_of_gas_is_reported_pending_then_paid_once(anvil_stack, db, tmp_path):
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path))
    executor = Account.from_key(anvil_stack.executor_key).address
    funds = rpc(anvil_stack.url, "eth_getBalance", [executor, "latest"])
    try:
        app.engine.services.chain = SendFirst(app.chain, lambda tx: rpc(anvil_stack.url, "anvil_setBalance", [executor, "0x0"]))
        to = fresh_address()
        reply = await say(app, f"/pay {to} 0.2")
        text = reply.plain()
        assert reply.kind != "error" and "Pending" in text and "native coin to pay the network fee" in text, text
        assert "again automatically" in text and balance(anvil_stack.url, to) == 0
        rpc(anvil_stack.url, "anvil_setBalance", [executor, funds])  # topped up
        for _ in range(3):
            await app.engine.reconcile()
        async with app.uow() as uow:
            (intent,) = await uow.intents.for_actor("console:op", 1)
        assert intent.status is IntentStatus.CONFIRMED and balance(anvil_stack.url, to) == 2 * 10**17
    finally:
        rpc(anvil_stack.url, "anvil_setBalance", [executor, funds])
        await app.close()


async def test_h2_a_nonce_used_by_another_transaction_is_reported_never_sent(anvil_stack, db, tmp_path):
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path))
    executor = Account.from_key(anvil_stack.executor_key)

    def take_the_nonce(ours: dict) -> None:  # another program using the executor key sends first
        other = {"type": 2, "chainId": ours["chainId"], "nonce": ours["nonce"], "to": executor.address, "value": 0,
                 "gas": 21_000, "maxFeePerGas": ours["maxFeePerGas"], "maxPriorityFeePerGas": ours["maxPriorityFeePerGas"]}
        signed = executor.sign_transaction(other)
        rpc(anvil_stack.url, "eth_sendRawTransaction", [HexBytes(signed.raw_transaction).to_0x_hex()])

    try:
        app.engine.services.chain = SendFirst(app.chain, take_the_nonce)
        to = fresh_address()
        reply = await say(app, f"/pay {to} 0.3")
        text = reply.plain()
        assert reply.kind == "error" and "never sent" in text and "Nothing was paid" in text, text
        async with app.uow() as uow:
            (intent,) = await uow.intents.for_actor("console:op", 1)
        assert intent.status is IntentStatus.FAILED
        await app.engine.reconcile()  # a failed payment is never sent again
        assert balance(anvil_stack.url, to) == 0
    finally:
        await app.close()
