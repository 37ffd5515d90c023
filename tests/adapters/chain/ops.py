"""Test helpers: send any account's transactions to Settlement and read its reverts and events."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from adapters.chain import artifacts
from adapters.chain import settlement as st
from adapters.chain.batches import BatchRows, execute_batch_calldata, execute_batch_typed_data, pack_row
from adapters.chain.deploy import create_address
from adapters.chain.rpc import HttpNode, Reverted

ZERO = "0x" + "00" * 20
NATIVE = ZERO


def sel(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def call_data(signature: str, types: list[str], args: list) -> bytes:
    return sel(signature) + abi_encode(types, args)


def intent(label: str) -> bytes:
    return keccak(text=f"{label}-{time.perf_counter_ns()}")


def address_of(key: str) -> str:
    return Account.from_key(key).address


class Actor:
    """One funded key sending raw transactions (fixed gas, EIP-1559) and waiting for each receipt."""

    def __init__(self, node: HttpNode, key: str, chain_id: int) -> None:
        self.node, self.key, self.chain_id = node, key, chain_id
        self.address = address_of(key)

    async def send(self, to: str | None, data: bytes = b"", value: int = 0, gas: int = 3_000_000) -> dict:
        nonce = await self.node.pending_nonce(self.address)
        base = await self.node.base_fee()
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "value": value, "data": data, "gas": gas,
              "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9}
        if to is not None:
            tx["to"] = to
        signed = Account.from_key(self.key).sign_transaction(tx)
        tx_hash = await self.node.send_raw(bytes(signed.raw_transaction))
        for _ in range(200):  # anvil automines, but a big block can take a moment
            if (receipt := await self.node.receipt(tx_hash)) is not None:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"transaction {tx_hash} was not mined")
        receipt["contract"] = create_address(self.address, nonce) if to is None else None
        return receipt

    async def deploy(self, name: str, types: list[str] = (), args: list = ()) -> str:
        receipt = await self.send(None, artifacts.load(name).bytecode + abi_encode(list(types), list(args)))
        assert receipt["status"] == 1
        return receipt["contract"]

    async def revert_of(self, to: str, data: bytes, value: int = 0) -> tuple[str | None, bytes]:
        """Simulate; return (error name, revert data). (None, b"") if it would succeed."""
        try:
            await self.node.call({"from": self.address, "to": to, "data": data, "value": value, "gas": 5_000_000})
        except Reverted as exc:
            return st.error_name(exc.data or b""), exc.data or b""
        return None, b""


def payment(intent_hash: bytes, token: str, recipient: str, amount: int) -> tuple:
    return (intent_hash, to_checksum_address(token), to_checksum_address(recipient), amount)


def sign_execute(key: str, chain_id: int, contract: str, p: tuple, deadline: int, epoch: int = 0) -> bytes:
    typed = st.execute_typed_data(chain_id, contract, p, deadline, epoch=epoch)
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)


_ROW_IDS = itertools.count(random.getrandbits(48) << 8)  # fresh bitmap words for each test session


def row_id() -> int:
    """A bulk row id no other test used (as the database hands them out: never twice)."""
    return next(_ROW_IDS)


def rows_of(items: list[tuple[int, str, str, int]]) -> BatchRows:
    """executeBatch's arguments for (row id, token, recipient, amount) items."""
    tokens: list[str] = []
    packed, amounts = [], []
    for row_id, token, recipient, amount in items:
        token = to_checksum_address(token)
        if token not in tokens:
            tokens.append(token)
        packed.append(pack_row(row_id, recipient, tokens.index(token)))
        amounts.append(amount)
    return BatchRows(tuple(tokens), tuple(packed), tuple(amounts))


def sign_batch(key: str, chain_id: int, contract: str, batch: BatchRows, deadline: int, epoch: int = 0) -> bytes:
    typed = execute_batch_typed_data(chain_id, contract, batch, deadline, epoch=epoch)
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)


def batch_call(key: str, chain_id: int, contract: str, batch: BatchRows, deadline: int, epoch: int = 0) -> bytes:
    """executeBatch calldata signed by `key` (the executor)."""
    return execute_batch_calldata(batch, deadline, sign_batch(key, chain_id, contract, batch, deadline, epoch))


def sign_mixer_deposit(key: str, chain_id: int, contract: str, p: tuple, commitment: int, deadline: int,
                       epoch: int = 0) -> bytes:
    typed = st.mixer_deposit_typed_data(chain_id, contract, p, commitment, deadline, epoch=epoch)
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)


async def read_uint(node: HttpNode, contract: str, signature: str) -> int:
    """A view without arguments returning a uint256 (e.g. "executorEpoch()")."""
    return int.from_bytes((await node.call({"to": contract, "data": sel(signature)}))[:32], "big")


async def read_address(node: HttpNode, contract: str, signature: str) -> str:
    """A view without arguments returning an address (e.g. "owner()")."""
    return to_checksum_address((await node.call({"to": contract, "data": sel(signature)}))[12:32])


def events(receipt: dict, contract: str) -> list[tuple[str, tuple, bytes]]:
    """(event name, topics after the first, data) for the contract's logs."""
    names = {
        st.PAYMENT_EXECUTED: "PaymentExecuted", st.ROWS_PAID: "RowsPaid", st.ROW_FAILED: "RowFailed",
        st.ROW_SKIPPED: "RowSkipped", st.INTENT_FUNDED: "IntentFunded",
        keccak(text="ExecutorChanged(address,address)"): "ExecutorChanged",
        keccak(text="Swept(address,address,uint256)"): "Swept",
        keccak(text="OwnershipTransferStarted(address,address)"): "OwnershipTransferStarted",
        keccak(text="OwnershipTransferred(address,address)"): "OwnershipTransferred",
    }
    out = []
    for log in receipt["logs"]:
        if log.address.lower() == contract.lower() and log.topics and log.topics[0] in names:
            out.append((names[log.topics[0]], log.topics[1:], log.data))
    return out


def topic_address(t: bytes) -> str:
    return to_checksum_address(t[12:])


def failed_reason(data: bytes) -> bytes:
    """The ABI-encoded error in a RowFailed event's data."""
    return abi_decode(["address", "address", "uint256", "bytes"], data)[3]


def rows_paid(receipt: dict, contract: str) -> set[int]:
    """The row ids a receipt's RowsPaid events announce."""
    paid: set[int] = set()
    for name, topics, data in events(receipt, contract):
        if name == "RowsPaid":
            word, bits = int.from_bytes(topics[0], "big"), int.from_bytes(data[:32], "big")
            paid |= {word << 8 | b for b in range(256) if bits >> b & 1}
    return paid


async def token_balance(node: HttpNode, token: str, owner: str) -> int:
    out = await node.call({"to": token, "data": st.balance_of_calldata(owner)})
    return int.from_bytes(out[:32], "big")
