"""One Mixer pool contract on chain: deposits, relayed withdrawals, Deposit events and readable reverts."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from adapters.chain.fees import fee_paid, offered_fees
from adapters.chain.rpc import Node, RpcError
from core.errors import ChainRejected, ChainUnavailable, TransientError

from .ports import PoolDeposit, RelayLog
from .prover import Proof, PublicInputs
from .relay import MemoryRelayLog

log = logging.getLogger("snowrail.mixer")

# The generated verifier returns false instead of reverting when it runs out of gas, so an estimate can
# come out far too low: withdrawals always go with this fixed limit (they use ~300k).
GAS_WITHDRAW = 450_000
GAS_DEPOSIT = 1_100_000  # 20 Poseidon hashes on chain; ~0.8M used
LOG_CHUNK = 2_000  # blocks per eth_getLogs request (public Cronos nodes refuse wide ranges)

DEPOSIT_TOPIC = keccak(text="Deposit(uint256,uint32,uint256)")
WITHDRAWAL_TOPIC = keccak(text="Withdrawal(address,uint256,address,uint256)")

_ERRORS = {
    "WrongValue(uint256,uint256)": "the deposit must send exactly the pool's denomination",
    "NotAFieldElement()": "a value is outside the proof system's field",
    "CommitmentExists()": "this commitment was already deposited",
    "TreeFull()": "this pool is full",
    "FeeExceedsDenomination()": "the relayer fee is larger than the pool's denomination",
    "NoteAlreadySpent()": "this note has already been spent",
    "UnknownRoot()": "the pool does not know the Merkle root the proof was made for",
    "InvalidProof()": "the pool rejected the proof",
    "ZeroRecipient()": "the recipient address is zero",
    "PaymentFailed(address)": "the recipient refused the payment",
    "ReentrancyGuardReentrantCall()": "a re-entrant call was refused",
}
_BY_SELECTOR = {keccak(text=sig)[:4]: (sig, text) for sig, text in _ERRORS.items()}


class PoolRejected(ChainRejected):
    """The pool would revert (or did); `reason` is the contract's error name, e.g. "NoteAlreadySpent".
    `tx_hash` is set when a mined transaction reverted (its gas is spent), None when only the simulation did."""

    def __init__(self, reason: str, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.tx_hash = tx_hash


# The pool's Deposit event: a PoolDeposit, which the database stores as a plain tuple without importing this adapter.
DepositEvent = PoolDeposit


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    block_number: int
    gas_used: int
    fee_paid: int  # wei the sender paid for gas


# One lock per sending account and event loop: pools of several denominations share the relayer's account,
# and two of them reading the same pending nonce would send two transactions with one nonce. Across
# processes the RelayLog's nonce reservation (in the database) does the same.
_SEND_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _sender_lock(address: str) -> asyncio.Lock:
    locks = _SEND_LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(address.lower(), asyncio.Lock())


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def decode_revert(data: bytes | None) -> PoolRejected:
    data = data or b""
    if data[:4] in _BY_SELECTOR:
        sig, text = _BY_SELECTOR[data[:4]]
        return PoolRejected(sig.split("(")[0], text[0].upper() + text[1:] + ".")
    if data[:4] == _selector("Error(string)"):
        (message,) = abi_decode(["string"], data[4:])
        return PoolRejected("Error", f"The pool refused: {message}.")
    return PoolRejected("Revert", "The pool refused the transaction (no reason given; the relayer may be short of gas).")


class MixerPool:
    """A fixed-denomination pool at `address`, used by the account of `key` (the relayer / depositor).
    `relays` reserves the account's nonces and keeps what it signs (default: this process only)."""

    def __init__(self, node: Node, address: str, key: str, *, chain_id: int, deployed_block: int = 0,
                 relays: RelayLog | None = None) -> None:
        self.node = node
        self.address = to_checksum_address(address)
        self._account = Account.from_key(key)
        self.chain_id = chain_id
        self.deployed_block = deployed_block
        self.relays: RelayLog = relays or MemoryRelayLog()

    def __repr__(self) -> str:
        return f"MixerPool({self.address} on chain {self.chain_id})"

    @property
    def sender(self) -> str:
        return self._account.address

    # ------------------------------------------------------------ reads
    async def _view(self, signature: str, types: list[str], args: list, out: list[str]) -> tuple:
        data = _selector(signature) + abi_encode(types, args)
        return abi_decode(out, await self.node.call({"to": self.address, "data": data}))

    async def denomination(self) -> int:
        return (await self._view("denomination()", [], [], ["uint256"]))[0]

    async def next_index(self) -> int:
        return (await self._view("nextIndex()", [], [], ["uint32"]))[0]

    async def last_root(self) -> int:
        return (await self._view("getLastRoot()", [], [], ["uint256"]))[0]

    async def is_known_root(self, root: int) -> bool:
        return (await self._view("isKnownRoot(uint256)", ["uint256"], [root], ["bool"]))[0]

    async def is_spent(self, nullifier_hash: int) -> bool:
        return (await self._view("isSpent(uint256)", ["uint256"], [nullifier_hash], ["bool"]))[0]

    async def hash_left_right(self, left: int, right: int) -> int:
        return (await self._view("hashLeftRight(uint256,uint256)", ["uint256", "uint256"], [left, right], ["uint256"]))[0]

    async def zeros(self, level: int) -> int:
        return (await self._view("zeros(uint256)", ["uint256"], [level], ["uint256"]))[0]

    async def block_number(self) -> int:
        return await self.node.block_number()

    async def deposits(self, from_block: int, to_block: int | None = None) -> list[DepositEvent]:
        """Deposit events in [from_block, to_block] (default: up to the latest block), oldest first."""
        last = await self.block_number() if to_block is None else to_block
        out: list[DepositEvent] = []
        start = max(from_block, self.deployed_block)
        while start <= last:
            end = min(start + LOG_CHUNK - 1, last)
            # The node port's logs (normalised alike by HttpNode and the in-process TesterNode).
            for entry in await self.node.logs(self.address, [DEPOSIT_TOPIC], start, end):
                leaf_index, timestamp = abi_decode(["uint32", "uint256"], entry["data"])
                out.append(DepositEvent(int.from_bytes(entry["topics"][1], "big"), leaf_index, timestamp,
                                        entry["block_number"], entry["tx_hash"]))
            start = end + 1
        out.sort(key=lambda e: e.leaf_index)
        return out

    # ------------------------------------------------------------ writes
    @staticmethod
    def deposit_data(commitment: int) -> bytes:
        return _selector("deposit(uint256)") + abi_encode(["uint256"], [commitment])

    @staticmethod
    def withdraw_data(proof: Proof, public: PublicInputs) -> bytes:
        a, b, c = proof.calldata()
        return _selector(
            "withdraw(uint256[2],uint256[2][2],uint256[2],uint256,uint256,address,address,uint256)"
        ) + abi_encode(
            ["uint256[2]", "uint256[2][2]", "uint256[2]", "uint256", "uint256", "address", "address", "uint256"],
            [a, b, c, public.root, public.nullifier_hash, to_checksum_address(public.recipient),
             to_checksum_address(public.relayer), public.fee],
        )

    async def deposit(self, commitment: int, value: int, *, timeout: float = 120.0) -> tuple[Sent, int]:
        """Deposits from the pool's account; returns the transaction and the new leaf's index."""
        sent = await self.send(self.deposit_data(commitment), value=value, gas=GAS_DEPOSIT, timeout=timeout)
        receipt = await self.node.receipt(sent.tx_hash)
        for entry in (receipt or {}).get("logs", []):
            if entry.topics and entry.topics[0] == DEPOSIT_TOPIC:
                return sent, abi_decode(["uint32", "uint256"], entry.data)[0]
        raise RuntimeError(f"deposit {sent.tx_hash} emitted no Deposit event")

    async def withdraw(self, proof: Proof, public: PublicInputs, *, timeout: float = 120.0) -> Sent:
        return await self.send(self.withdraw_data(proof, public), gas=GAS_WITHDRAW, timeout=timeout)

    async def fees(self) -> dict[str, int]:
        """The fee fields of the next transaction; its simulation runs with exactly these."""
        max_fee, tip = await offered_fees(self.node)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}

    async def send(self, data: bytes, *, value: int = 0, gas: int, timeout: float = 120.0,
                   simulate: bool = True) -> Sent:
        """Prices the transaction, simulates it as it will be mined (a revert becomes PoolRejected with a plain
        sentence), reserves a nonce, signs, stores, sends and waits."""
        fees = await self.fees()
        if await self.node.balance(self.sender) < gas * fees["maxFeePerGas"] + value:
            raise PoolRejected("Gas", "The relayer is short of gas: its account cannot pay for this transaction.")
        if simulate:
            # With the mined transaction's own sender, gas and fee fields: a contract that behaves differently
            # when tx.gasprice > 0 (as in every mined transaction) is caught here, before any gas is spent.
            await self.simulate(data, value=value, gas=gas, fees=fees)
        tx_hash: str | None = None
        async with _sender_lock(self.sender):
            floor = await self.node.pending_nonce(self.sender)
            # The nonce commits only once the node accepted the transaction: a refused broadcast gives it
            # back, and a crash after sending is covered by the floor (the node counts its pending transaction).
            try:
                async with self.relays.sending(self.chain_id, self.sender, floor) as slot:
                    tx = {"type": 2, "chainId": self.chain_id, "nonce": slot.nonce, "to": self.address,
                          "value": value, "data": data, "gas": gas, **fees}
                    signed = self._account.sign_transaction(tx)
                    raw = bytes(signed.raw_transaction)
                    await slot.keep("0x" + bytes(signed.hash).hex(), raw)
                    try:
                        tx_hash = await self.node.send_raw(raw)
                    except RpcError as e:  # refused (fee, nonce, funds): nothing was sent, the nonce goes back
                        raise PoolRejected("Broadcast",
                                           f"The node refused the transaction ({e.message[:200]}).") from None
            except TransientError:
                if tx_hash is None:
                    raise
                # Sent, but the database could not record it: the transaction is on its way all the same.
                log.warning("relayer transaction %s sent; its nonce was not recorded (database unavailable)", tx_hash)
        assert tx_hash is not None
        receipt = await self.wait(tx_hash, timeout)
        if receipt["status"] != 1:
            # Mined but reverted (the state changed since the simulation): replay it to learn why.
            try:
                await self.simulate(data, value=value, gas=gas, fees=fees, block=receipt["block_number"] - 1)
            except PoolRejected as e:
                raise PoolRejected(e.reason, f"{e.message} (transaction {tx_hash})", tx_hash=tx_hash) from None
            raise PoolRejected("Revert", f"The transaction {tx_hash} failed on chain.", tx_hash=tx_hash)
        return Sent(tx_hash, receipt["block_number"], receipt["gas_used"], fee_paid(receipt))

    async def simulate(self, data: bytes, *, value: int = 0, gas: int, fees: dict[str, int] | None = None,
                       block: str | int = "latest") -> None:
        tx = {"from": self.sender, "to": self.address, "data": data, "value": value, "gas": gas, **(fees or {})}
        try:
            await self.node.call(tx, block)
        except ChainUnavailable:
            raise
        except Exception as exc:  # the transport's revert error; its payload says which check failed
            if hasattr(exc, "data"):
                raise decode_revert(getattr(exc, "data")) from None
            raise

    async def wait(self, tx_hash: str, timeout: float) -> dict:
        end = time.monotonic() + timeout
        delay = 0.02
        while (receipt := await self.node.receipt(tx_hash)) is None:
            if time.monotonic() > end:
                raise ChainUnavailable(f"transaction {tx_hash} was not mined within {timeout:.0f} s")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        return receipt
