"""Web3Chain: the core's `Chain` port over the Settlement contract, on an HTTP node or in-process eth-tester.

Round trips are kept few because a /pay has a 150 ms p95 budget: the chain id is read once, fee data is
cached for `fee_ttl` seconds, gas limits are fixed per payment kind (batches: estimated, to fill blocks), fee
lookup and the eth_call simulation run concurrently. Every payment is simulated before anything is signed, so a
revert becomes a `ChainRejected` sentence instead of a signed transaction that would fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime, timezone

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from core.errors import ChainRejected, UserError
from core.model import Receipt
from core.money import Token, TokenRegistry
from core.ports import ExecutorAllowance, PaymentOrder, SignedTx

from . import batches, history, rowwords, wallets
from . import settlement as st
from .fees import FeeBook, fee_paid, offered_fees
from .gas import (GAS_EXECUTE, GAS_MIXER_DEPOSIT, KeptBatches, batch_capacity, batch_gas_limit, chunk_capacity_of,
                  estimate_gas)
from .refusals import SignatureRefused, already_known, nonce_spent, refusal
from .rpc import Node, Reverted, RpcError
from .tokens import token_registry

log = logging.getLogger(__name__)

_EXPLORERS = {25: "https://explorer.cronos.org/tx/", 338: "https://explorer.cronos.org/testnet/tx/"}
_INVALID_SIGNATURE = st.selector("InvalidSignature()")


class Web3Chain:
    """The Settlement contract at `settlement` on the node behind `node`, spent by `private_key`.

    `chain_id` may be given (no network at construction) or learned by `await ready()`; `connect()` in
    adapters.chain does the latter. The executor key signs both the EIP-712 authorisations and the
    transactions that submit them (the contract accepts them from the executor only); it is never logged or
    included in an exception. Authorisations carry the contract's executor epoch, read once and cached; a
    simulation refused as InvalidSignature re-reads it (the owner may have rotated the executor) and signs
    once more. `deployed_block` bounds the log searches (`paid_by`, `rows_paid_by`); unknown, it is found with eth_getCode.
    """

    def __init__(
        self,
        node: Node,
        private_key: str | bytes,
        settlement: str,
        *,
        chain_id: int | None = None,
        tokens: TokenRegistry | str | None = None,
        deadline_window: int = 3600,
        fee_ttl: float = 3.0,
        explorer_base: str | None = None,
        poll_interval: float = 0.01,
        max_poll_interval: float = 0.5,
        deployed_block: int | None = None,
    ) -> None:
        self._node = node
        try:
            self._account = Account.from_key(private_key)
        except Exception:  # the library's message could echo part of the key
            raise ValueError("PRIVATE_KEY is not a valid private key (0x followed by 64 hex digits)") from None
        self._settlement = to_checksum_address(settlement)
        self._chain_id = chain_id
        # A TOKENS setting string is resolved once the chain id is known.
        self._tokens_setting = tokens if isinstance(tokens, str) else None
        self._tokens = tokens if isinstance(tokens, TokenRegistry) else None
        self.deadline_window = deadline_window
        self._fees = FeeBook(fee_ttl)
        self._explorer_base = explorer_base
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self._epoch: int | None = None
        self._deployed_block = deployed_block
        self.batch_capacity = batch_capacity()  # orders per bulk chunk; ready() sizes it to a share of a block
        self._kept = KeptBatches()

    def __repr__(self) -> str:
        return f"Web3Chain(chain_id={self._chain_id}, settlement={self._settlement}, node={self._node.label})"

    # ------------------------------------------------------------ identity
    async def ready(self) -> Web3Chain:
        """Read the node's chain id once; refuse a node serving a different chain than configured."""
        actual = await self._node.chain_id()
        if self._chain_id is not None and actual != self._chain_id:
            raise ValueError(
                f"the node at {self._node.label} serves chain {actual}, but chain id {self._chain_id} was configured"
            )
        self._chain_id = actual
        _ = self.tokens
        self.batch_capacity = await chunk_capacity_of(self._node)
        return self

    async def _cid(self) -> int:
        if self._chain_id is None:
            await self.ready()
        assert self._chain_id is not None  # ready() sets it, or raises
        return self._chain_id

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            raise RuntimeError("chain id unknown: use adapters.chain.connect() or await chain.ready() first")
        return self._chain_id

    @property
    def tokens(self) -> TokenRegistry:
        if self._tokens is None:
            self._tokens = token_registry(self.chain_id, self._tokens_setting)
        return self._tokens

    @property
    def executor(self) -> str:
        return self._account.address

    @property
    def treasury(self) -> str:
        return self._settlement

    @property
    def node(self) -> Node:
        return self._node

    # ------------------------------------------------------------ reads
    async def balance(self, address: str, token: Token) -> int:
        if token.native:
            return await self._node.balance(address)
        if token.address is None:
            raise UserError(f"token: {token.symbol} has no contract on this chain", field="token")
        out = await self._node.call({"to": token.address, "data": st.balance_of_calldata(address)})
        return int.from_bytes(out[:32], "big") if len(out) >= 32 else 0

    async def pending_nonce(self) -> int:
        return await self._node.pending_nonce(self.executor)

    async def mined_nonce(self) -> int:
        # At "latest": mined transactions only (a hex string over HTTP, an int from eth-tester).
        count = await self._node.request("eth_getTransactionCount", [self.executor, "latest"])
        return count if isinstance(count, int) else int(count, 16)

    async def is_paid(self, intent_hash: str) -> bool:
        out = await self._node.call({"to": self._settlement, "data": st.executed_calldata(intent_hash)})
        return len(out) >= 32 and int.from_bytes(out[:32], "big") == 1

    used_row_words = rowwords.used_row_words  # the bitmap words in use, one batch request (in rowwords.py)
    async def is_row_paid(self, row_id: int) -> bool:
        out = await self._node.call({"to": self._settlement, "data": batches.is_row_paid_calldata(row_id)})
        return len(out) >= 32 and int.from_bytes(out[:32], "big") == 1

    async def executor_allowance(self, token: Token) -> ExecutorAllowance | None:
        """The contract's cap on the executor for `token` (None: the owner set none, so there is no cap)."""
        address = st.ZERO if token.native else token.address
        if address is None:
            raise UserError(f"token: {token.symbol} has no contract on this chain", field="token")
        out = await self._node.call({"to": self._settlement, "data": st.executor_allowance_calldata(address)})
        amount, period, spent, start = st.decode_executor_allowance(out)
        if period == 0:
            return None
        try:
            refills = datetime.fromtimestamp(start + period, timezone.utc)
        except (OverflowError, OSError, ValueError):  # a period of centuries: it never refills in practice
            refills = datetime.max.replace(tzinfo=timezone.utc)
        return ExecutorAllowance(amount, period, spent, refills)

    async def onchain_executor(self) -> str:
        """The executor the contract trusts (compare with `executor` at startup)."""
        out = await self._node.call({"to": self._settlement, "data": st.EXECUTOR})
        return to_checksum_address(out[12:32])

    async def onchain_epoch(self) -> int:
        """The contract's executor epoch now (read from the chain, and cached for signing)."""
        out = await self._node.call({"to": self._settlement, "data": st.EXECUTOR_EPOCH})
        self._epoch = int.from_bytes(out[:32], "big")
        return self._epoch

    async def paid_by(self, intent_hash: str) -> str | None:
        """The transaction whose PaymentExecuted event paid `intent_hash`, or None (eth_getLogs on the
        indexed intent hash, newest blocks first, back to the contract's deployment block)."""
        topic = st.intent_topic(intent_hash)
        if not await self.is_paid(intent_hash):
            return None
        start, latest = await self._history()
        return await history.last_log_tx(self._node, self._settlement, [st.PAYMENT_EXECUTED, topic], start, latest)

    async def rows_paid_by(self, row_ids: Collection[int]) -> dict[int, str]:
        """Of these bulk rows, those the contract paid, each with the transaction whose RowsPaid event paid it."""
        return await history.bits_set_by(self._node, self._settlement, st.ROWS_PAID, row_ids, *await self._history())

    async def _history(self) -> tuple[int, int]:
        """The blocks to search for the contract's events: from its deployment to the latest."""
        latest = await self._node.block_number()
        if self._deployed_block is None:
            self._deployed_block = await history.deployment_block(self._node, self._settlement, latest)
        return self._deployed_block, latest

    # ------------------------------------------------------------ fees and sizing
    async def fee_per_gas(self) -> int:
        """What a transaction signed now offers per gas at most, read now (for fee estimates)."""
        max_fee, _ = await offered_fees(self._node)
        return max_fee

    # ------------------------------------------------------------ signing
    def _deadline(self) -> int:
        return int(time.time()) + self.deadline_window

    async def _simulate(self, data: bytes, gas: int) -> None:
        try:
            await self._node.call({"from": self.executor, "to": self._settlement, "data": data, "gas": gas})
        except Reverted as exc:
            sentence = st.revert_sentence(exc.data or b"", self.tokens)
            if bytes(exc.data or b"")[:4] == _INVALID_SIGNATURE:
                raise SignatureRefused(sentence) from None
            raise ChainRejected(sentence) from None

    async def _sign_authorised(self, build: Callable[[int], bytes], gas: int, nonce: int, bump: int,
                               estimate: bool = False) -> SignedTx:
        """Sign `build(epoch)` (calldata holding an authorisation for that executor epoch) into a transaction.
        If the contract refuses the signature and its epoch has moved on, sign once more for the new epoch;
        an old epoch's signature is never sent."""
        epoch = self._epoch if self._epoch is not None else await self.onchain_epoch()
        try:
            return await self._sign_tx(build(epoch), gas, nonce, bump, estimate=estimate)
        except SignatureRefused as refused:
            fresh = await self.onchain_epoch()
            if fresh == epoch:
                raise ChainRejected(refused.message) from None
            log.warning("the Settlement's executor epoch moved from %s to %s; signing again", epoch, fresh)
        try:
            return await self._sign_tx(build(fresh), gas, nonce, bump, estimate=estimate)
        except SignatureRefused as refused:
            raise ChainRejected(refused.message) from None

    async def _sign_tx(self, data: bytes, gas: int, nonce: int, bump: int, *, estimate: bool | None = False
                       ) -> SignedTx:
        # estimate: False simulates at `gas`, True signs the node's estimate, None (a kept batch) neither.
        check = self._simulate(data, gas) if estimate is False else None if estimate is None else \
            estimate_gas(self._node, self.executor, self._settlement, data, gas, lambda: self._simulate(data, gas))
        fees, estimated = await asyncio.gather(self._fees.current(self._node), check or asyncio.sleep(0))
        gas = estimated or gas
        max_fee, tip = self._fees.for_nonce(nonce, bump, fees)
        tx = {"type": 2, "chainId": await self._cid(), "nonce": nonce, "to": self._settlement, "value": 0, "data": data,
              "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        signed = self._account.sign_transaction(tx)
        return SignedTx(raw=bytes(signed.raw_transaction), tx_hash="0x" + bytes(signed.hash).hex(), nonce=nonce,
                        max_fee=max_fee, tip=tip)

    def _signature(self, typed: dict) -> bytes:
        return bytes(self._account.sign_typed_data(full_message=typed).signature)

    async def sign_payment(self, order: PaymentOrder, nonce: int, *, bump: int = 0) -> SignedTx:
        chain_id = await self._cid()
        payment = self._payment(order)
        deadline = self._deadline()
        contract = self._settlement
        if order.mixer_commitment is not None:
            commitment = int(order.mixer_commitment, 16)

            def deposit(epoch: int) -> bytes:
                typed = st.mixer_deposit_typed_data(chain_id, contract, payment, commitment, deadline, epoch=epoch)
                return st.mixer_deposit_calldata(payment, commitment, deadline, self._signature(typed))

            return await self._sign_authorised(deposit, GAS_MIXER_DEPOSIT, nonce, bump)

        def execute(epoch: int) -> bytes:
            typed = st.execute_typed_data(chain_id, contract, payment, deadline, epoch=epoch)
            return st.execute_calldata(payment, deadline, self._signature(typed))

        return await self._sign_authorised(execute, GAS_EXECUTE, nonce, bump)

    async def sign_batch(self, orders: list[PaymentOrder], nonce: int, *, bump: int = 0) -> SignedTx:
        """One executeBatch under one executor signature, paying each order under its `row_id` (at most once
        ever: the contract's bitmap). Rows it refuses come back in the receipt's `failed_rows`; only
        batch-wide problems (expired, bad signature) raise ChainRejected here.
        Size the list with `chunk_orders`; the gas limit is the node's estimate with a margin (gas.estimate_gas)."""
        if not orders:
            raise ValueError("sign_batch needs at least one order")
        if len(orders) > batch_capacity():
            raise ValueError(f"{len(orders)} orders do not fit one transaction; split them with chunk_orders()")
        if (kept := self._kept.pop(tuple(orders))) is not None:  # prepared moments ago: sign the transaction only
            return await self._sign_tx(*kept, nonce, bump, estimate=None)
        chain_id = await self._cid()
        try:
            rows = batches.batch_rows(orders)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        deadline = self._deadline()

        def batch(epoch: int) -> bytes:
            typed = batches.execute_batch_typed_data(chain_id, self._settlement, rows, deadline, epoch=epoch)
            return batches.execute_batch_calldata(rows, deadline, self._signature(typed))

        return await self._sign_authorised(batch, batch_gas_limit(len(orders)), nonce, bump, estimate=True)

    async def prepare_batch(self, orders: list[PaymentOrder]) -> None:
        self._kept.pop(tuple(orders))  # always afresh: simulated and estimated now (see gas.KeptBatches)
        self._kept.keep(tuple(orders), await self.sign_batch(orders, 0))

    def _payment(self, order: PaymentOrder) -> tuple:
        try:
            return st.payment_tuple(order)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    # ------------------------------------------------------------ sending
    async def broadcast(self, raw: bytes) -> str:
        tx_hash = "0x" + keccak(raw).hex()
        try:
            sent = await self._node.send_raw(raw)
            return sent if isinstance(sent, str) and sent.startswith("0x") else tx_hash
        except RpcError as exc:
            if already_known(exc.message):
                return tx_hash
            if nonce_spent(exc.message) and await self._node.transaction(tx_hash) is not None:
                return tx_hash  # this very transaction was mined already
            raise refusal(exc.message, raw, self.executor) from None

    async def broadcast_many(self, raws: list[bytes]) -> list[str | ChainRejected]:
        """Send several signed transactions; over HTTP in one JSON-RPC batch request. Each slot is the
        hash or the ChainRejected for that transaction."""
        answers = await self._node.batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        results: list[str | ChainRejected] = []
        for raw, answer in zip(raws, answers, strict=True):
            if isinstance(answer, RpcError):
                try:
                    results.append(await self.broadcast(raw))  # the single path knows the benign errors
                except ChainRejected as exc:
                    results.append(exc)
            else:
                results.append("0x" + keccak(raw).hex())
        return results

    async def stuck(self, tx_hash: str) -> bool:  # asked once its receipt is missing; a bulk chunk then gets a bump
        tx, base = await asyncio.gather(self._node.transaction(tx_hash), self._node.base_fee())
        return tx is not None and tx["fees"].get("max_fee_per_gas", tx["fees"].get("gas_price", 0)) < base * 9 // 8

    # ------------------------------------------------------------ receipts
    async def receipt(self, tx_hash: str) -> Receipt | None:
        r = await self._node.receipt(tx_hash)
        if r is None:
            return None
        ok = r["status"] == 1
        outcome = st.payout_outcome(r["logs"], self._settlement, self.tokens)
        reason = None if ok else await self._failure_reason(tx_hash, r)
        return Receipt(tx_hash=tx_hash, ok=ok, block_number=r["block_number"], gas_used=r["gas_used"], fee=fee_paid(r),
                       reason=reason, paid=outcome.paid, paid_rows=outcome.paid_rows, failed_rows=outcome.failed_rows)

    async def _failure_reason(self, tx_hash: str, r: dict) -> str:
        """Replay the reverted transaction at its block to recover the revert data."""
        tx = await self._node.transaction(tx_hash)
        if tx is None:
            return "the transaction was reverted"
        if tx["gas"] and r["gas_used"] >= tx["gas"]:
            return "the transaction ran out of gas"
        # With its own fee fields: a recipient may revert only when tx.gasprice > 0, as in a mined transaction.
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"],
                **tx["fees"]}
        try:
            await self._node.call(call, r["block_number"])
        except Reverted as exc:
            if bytes(exc.data or b"")[:4] == _INVALID_SIGNATURE:
                self._epoch = None  # the executor was probably rotated: read the epoch again before signing
            return st.revert_sentence(exc.data or b"", self.tokens)
        except RpcError:
            pass
        return "the transaction was reverted (the chain's state changed before it was mined)"

    async def wait_for_receipt(self, tx_hash: str, timeout: float) -> Receipt | None:
        deadline = time.monotonic() + timeout
        delay = self.poll_interval
        while True:
            receipt = await self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 1.5, self.max_poll_interval)

    # ------------------------------------------------------------ wallets and links
    def recover_signer(self, message: str, signature: str) -> str:
        return wallets.recover_signer(message, signature)

    def explorer_url(self, tx_hash: str) -> str | None:
        if self._explorer_base:
            return self._explorer_base.rstrip("/") + "/" + tx_hash
        base = _EXPLORERS.get(self._chain_id or -1)
        return base + tx_hash if base else None

    async def close(self) -> None:
        await self._node.close()

