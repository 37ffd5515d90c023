"""TesterNode: the node port over eth-tester (py-evm) in-process, for the embedded dev chain and the tests."""

from __future__ import annotations

import ast
import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .rpc import Reverted, RpcError
from .wire import as_bytes, as_hex, normal_log, normal_receipt, normal_tx


def _revert_data(exc: Exception) -> bytes:
    """Revert bytes from eth-tester's TransactionFailed, whose message is the repr of the bytes for
    custom errors, or the decoded text for Error(string)."""
    from eth_abi import encode as abi_encode

    text = str(exc.args[0]) if exc.args else ""
    text = text.removeprefix("execution reverted: ")
    if text.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(text)
            if isinstance(value, bytes):
                return value
        except (ValueError, SyntaxError):
            pass
    if not text or text in ("Revert", "execution reverted") or "Revert(b'')" in text:
        return b""
    return bytes.fromhex("08c379a0") + abi_encode(["string"], [text])


_SNAKE = {"maxFeePerGas": "max_fee_per_gas", "maxPriorityFeePerGas": "max_priority_fee_per_gas", "gasPrice": "gas_price",
          "chainId": "chain_id", "accessList": "access_list"}


class TesterNode:
    """eth-tester (py-evm) in-process. Its calls are synchronous and not thread-safe, so they all run in
    one dedicated worker thread and the event loop never blocks."""

    label = "eth-tester (in-process)"

    def __init__(self, tester: Any | None = None) -> None:
        if tester is None:
            from eth_tester import EthereumTester

            tester = EthereumTester()
        self.tester = tester
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eth-tester")
        self._reader: str | None = None

    async def _run(self, fn, *args):  # noqa: ANN001
        from eth_tester.exceptions import TransactionFailed
        from eth_tester.exceptions import ValidationError as TesterValidationError
        from eth_utils import ValidationError as EvmValidationError

        def guarded():
            try:
                return fn(*args)
            except TransactionFailed as exc:
                raise Reverted("execution reverted", code=3, data=_revert_data(exc)) from None
            except (TesterValidationError, EvmValidationError) as exc:
                raise RpcError(str(exc)) from None

        return await asyncio.get_running_loop().run_in_executor(self._pool, guarded)

    def run_sync(self, fn, *args):  # noqa: ANN001
        """Run `fn(*args)` on the tester thread and wait (for synchronous setup code)."""
        return self._pool.submit(fn, *args).result()

    async def request(self, method: str, params: list) -> Any:
        from web3.providers.eth_tester.defaults import API_ENDPOINTS

        namespace, _, endpoint = method.partition("_")
        return await self._run(lambda: API_ENDPOINTS[namespace][endpoint](self.tester, params))

    async def batch(self, calls: list[tuple[str, list]]) -> list[Any | RpcError]:
        """In process there is no request to save: the calls run one after another."""
        out: list[Any | RpcError] = []
        for method, params in calls:
            try:
                out.append(await self.request(method, params))
            except RpcError as exc:
                out.append(exc)
        return out

    async def chain_id(self) -> int:
        from web3.providers.eth_tester.defaults import API_ENDPOINTS

        return API_ENDPOINTS["eth"]["chainId"](self.tester, [])

    async def pending_nonce(self, address: str) -> int:
        return await self._run(self.tester.get_nonce, address, "pending")

    async def base_fee(self) -> int:
        block = await self._run(self.tester.get_block_by_number, "latest")
        return int(block.get("base_fee_per_gas") or 0)

    async def priority_fee(self) -> int:
        return 10**9

    async def balance(self, address: str) -> int:
        return await self._run(self.tester.get_balance, address)

    async def call(self, tx: dict, block: str | int = "latest") -> bytes:
        # eth-tester names fields in snake case (max_fee_per_gas); the JSON-RPC call object in camel case.
        params = {_SNAKE.get(k, k): (as_hex(v) if isinstance(v, bytes) else v) for k, v in tx.items()}
        if "from" not in params:  # eth-tester charges calls gas, so read from a funded account
            params["from"] = self._reader or await self._run(lambda: self.tester.get_accounts()[0])
            self._reader = params["from"]
        return as_bytes(await self._run(self.tester.call, params, block))

    async def send_raw(self, raw: bytes) -> str:
        return await self._run(self.tester.send_raw_transaction, as_hex(raw))

    async def _found(self, fn, tx_hash: str) -> dict | None:  # noqa: ANN001
        from eth_tester.exceptions import TransactionNotFound

        def get():
            try:
                return fn(tx_hash)
            except TransactionNotFound:
                return None

        return await self._run(get)

    async def receipt(self, tx_hash: str) -> dict | None:
        r = await self._found(self.tester.get_transaction_receipt, tx_hash)
        if not r or r.get("block_number") is None:
            return None
        return normal_receipt(r)

    async def transaction(self, tx_hash: str) -> dict | None:
        t = await self._found(self.tester.get_transaction_by_hash, tx_hash)
        return normal_tx(t) if t else None

    async def block_number(self) -> int:
        return int((await self._run(self.tester.get_block_by_number, "latest"))["number"])

    async def code(self, address: str, block: str | int = "latest") -> bytes:
        return as_bytes(await self._run(self.tester.get_code, address, block))

    async def logs(self, address: str, topics: list[bytes | None], from_block: int, to_block: int) -> list[dict]:
        wanted = [None if t is None else as_hex(t) for t in topics]
        found = await self._run(lambda: self.tester.get_logs(from_block=from_block, to_block=to_block,
                                                             address=address, topics=wanted))
        return [normal_log(entry) for entry in found]

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
