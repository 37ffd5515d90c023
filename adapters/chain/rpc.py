"""Transports to an EVM node: JSON-RPC over one persistent HTTP session, or eth-tester in a worker thread.

Both expose the same small async API with normalised Python values, so `Web3Chain` has one code path.
Why not `AsyncWeb3(AsyncHTTPProvider)` for HTTP: its default session closes the connection after every
request, it retries failed requests (delaying ChainUnavailable) and it logs the endpoint URL, which may
carry an API key, at debug level. The URL is kept private here and errors name only host and port.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from core.errors import ChainUnavailable

from .settlement import Log

log = logging.getLogger(__name__)


class RpcError(Exception):
    """The node answered with a JSON-RPC error (the request itself reached it)."""

    def __init__(self, message: str, *, code: int = 0, data: bytes | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.data = data


class Reverted(RpcError):
    """An eth_call reverted; `data` holds the revert payload (empty if the node gave none)."""


class Node(Protocol):
    label: str

    async def chain_id(self) -> int: ...
    async def pending_nonce(self, address: str) -> int: ...
    async def base_fee(self) -> int: ...
    async def priority_fee(self) -> int: ...
    async def balance(self, address: str) -> int: ...
    async def call(self, tx: dict, block: str | int = "latest") -> bytes: ...
    async def send_raw(self, raw: bytes) -> str: ...
    async def receipt(self, tx_hash: str) -> dict | None: ...
    async def transaction(self, tx_hash: str) -> dict | None: ...
    async def block_number(self) -> int: ...
    async def code(self, address: str, block: str | int = "latest") -> bytes: ...
    async def logs(self, address: str, topics: list[bytes | None], from_block: int, to_block: int) -> list[dict]:
        """eth_getLogs of one contract: [{"tx_hash", "block_number", "topics", "data"}], oldest first."""
    async def request(self, method: str, params: list) -> Any: ...
    async def close(self) -> None: ...


def _int(value: Any) -> int:
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)


def _bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _hex(value: bytes | int) -> str:
    return hex(value) if isinstance(value, int) else "0x" + bytes(value).hex()


def _normal_receipt(r: dict) -> dict:
    """Receipts in one shape: status, block_number, gas_used, effective_gas_price, to, logs[Log]."""

    def get(camel: str, snake: str) -> Any:
        return r[camel] if camel in r else r.get(snake)

    return {
        "status": _int(get("status", "status")),
        "block_number": _int(get("blockNumber", "block_number")),
        "gas_used": _int(get("gasUsed", "gas_used")),
        "effective_gas_price": _int(get("effectiveGasPrice", "effective_gas_price")),
        "logs": [
            Log(entry["address"], tuple(_bytes(t) for t in entry["topics"]), _bytes(entry["data"]))
            for entry in r.get("logs", [])
        ],
    }


def _normal_tx(t: dict) -> dict:
    def get(camel: str, snake: str) -> Any:
        return t[camel] if camel in t else t.get(snake)

    block = get("blockNumber", "block_number")
    max_fee = get("maxFeePerGas", "max_fee_per_gas")
    fees = (
        {"max_fee_per_gas": _int(max_fee),
         "max_priority_fee_per_gas": _int(get("maxPriorityFeePerGas", "max_priority_fee_per_gas"))}
        if max_fee is not None else {"gas_price": _int(get("gasPrice", "gas_price"))}
    )
    return {
        "from": t["from"],
        "to": t.get("to"),
        "input": _bytes(get("input", "data") or b""),
        "value": _int(t.get("value")),
        "gas": _int(t.get("gas")),
        "nonce": _int(t.get("nonce")),
        "block_number": None if block is None else _int(block),
        "fees": fees,  # as call() takes them: replaying with them makes tx.gasprice what it was
    }


def _normal_log(entry: dict) -> dict:
    def get(camel: str, snake: str) -> Any:
        return entry[camel] if camel in entry else entry.get(snake)

    tx_hash = get("transactionHash", "transaction_hash")
    return {
        "tx_hash": tx_hash if isinstance(tx_hash, str) else _hex(tx_hash),
        "block_number": _int(get("blockNumber", "block_number")),
        "topics": tuple(_bytes(t) for t in entry["topics"]),
        "data": _bytes(entry["data"]),
    }


_CAMEL = {"max_fee_per_gas": "maxFeePerGas", "max_priority_fee_per_gas": "maxPriorityFeePerGas",
          "gas_price": "gasPrice"}


def redact(url: str) -> str:
    """scheme://host:port of an RPC URL: no credentials, path or query (they may hold an API key)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "the configured RPC URL"


class HttpNode:
    """JSON-RPC over HTTP(S) with keep-alive; one aiohttp session per event loop, created on first use."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self.label = redact(url)
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"HttpNode({self.label})"

    def _session_now(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session belongs to the loop it was made in (an RQ job's asyncio.run makes a new loop).
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=32, keepalive_timeout=60),
                headers={"Content-Type": "application/json"},
            )
            self._loop = loop
        return self._session

    async def _post(self, body: Any) -> Any:
        session = self._session_now()
        try:
            async with session.post(self._url, json=body) as resp:
                if resp.status >= 500 or resp.status in (408, 429):
                    raise ChainUnavailable(f"the chain node at {self.label} answered HTTP {resp.status}")
                if resp.status >= 400:
                    raise ChainUnavailable(
                        f"the chain node at {self.label} refused the request (HTTP {resp.status}); check RPC_URL"
                    )
                return await resp.json(content_type=None)
        except ChainUnavailable:
            raise
        except asyncio.TimeoutError:
            raise ChainUnavailable(f"the chain node at {self.label} did not answer in time") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # `from None`: aiohttp's messages and request_info can carry the full URL.
            raise ChainUnavailable(
                f"the chain node at {self.label} is not answering ({type(exc).__name__})"
            ) from None

    @staticmethod
    def _result(payload: dict) -> Any:
        error = payload.get("error")
        if error is not None:
            message = str(error.get("message", "error"))
            raw = error.get("data")
            if isinstance(raw, dict):  # some nodes nest it: {"data": {"data": "0x.."}}
                raw = raw.get("data")
            data = _bytes(raw) if isinstance(raw, str) and raw.startswith("0x") else None
            if "revert" in message.lower() or error.get("code") == 3:
                raise Reverted(message, code=int(error.get("code", 0)), data=data or b"")
            raise RpcError(message, code=int(error.get("code", 0)), data=data)
        return payload.get("result")

    async def request(self, method: str, params: list) -> Any:
        return self._result(await self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}))

    async def batch(self, calls: list[tuple[str, list]]) -> list[Any | RpcError]:
        """Several calls in one HTTP request; each slot holds the result or the RpcError."""
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answers = await self._post(body)
        if not isinstance(answers, list):
            self._result(answers)  # a single error object for the whole batch
            raise RpcError("the node did not answer the batch")
        by_id = {a.get("id"): a for a in answers}
        out: list[Any | RpcError] = []
        for i in range(len(calls)):
            try:
                out.append(self._result(by_id.get(first + i, {"error": {"message": "missing answer"}})))
            except RpcError as exc:
                out.append(exc)
        return out

    async def chain_id(self) -> int:
        return _int(await self.request("eth_chainId", []))

    async def pending_nonce(self, address: str) -> int:
        return _int(await self.request("eth_getTransactionCount", [address, "pending"]))

    async def base_fee(self) -> int:
        block = await self.request("eth_getBlockByNumber", ["latest", False])
        return _int(block.get("baseFeePerGas"))

    async def priority_fee(self) -> int:
        try:
            return _int(await self.request("eth_maxPriorityFeePerGas", []))
        except RpcError:
            return 10**9

    async def balance(self, address: str) -> int:
        return _int(await self.request("eth_getBalance", [address, "latest"]))

    async def call(self, tx: dict, block: str | int = "latest") -> bytes:
        """eth_call; `tx` keys are from/to/data/value/gas and optionally the snake_case fee fields
        max_fee_per_gas, max_priority_fee_per_gas or gas_price."""
        params = {_CAMEL.get(k, k): (_hex(v) if isinstance(v, (bytes, int)) else v) for k, v in tx.items()}
        tag = hex(block) if isinstance(block, int) else block
        return _bytes(await self.request("eth_call", [params, tag]))

    async def send_raw(self, raw: bytes) -> str:
        return await self.request("eth_sendRawTransaction", [_hex(raw)])

    async def receipt(self, tx_hash: str) -> dict | None:
        r = await self.request("eth_getTransactionReceipt", [tx_hash])
        if not r or r.get("blockNumber") is None:
            return None
        return _normal_receipt(r)

    async def transaction(self, tx_hash: str) -> dict | None:
        t = await self.request("eth_getTransactionByHash", [tx_hash])
        return _normal_tx(t) if t else None

    async def block_number(self) -> int:
        return _int(await self.request("eth_blockNumber", []))

    async def code(self, address: str, block: str | int = "latest") -> bytes:
        return _bytes(await self.request("eth_getCode", [address, hex(block) if isinstance(block, int) else block]))

    async def logs(self, address: str, topics: list[bytes | None], from_block: int, to_block: int) -> list[dict]:
        query = {"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block),
                 "topics": [None if t is None else _hex(t) for t in topics]}
        return [_normal_log(entry) for entry in await self.request("eth_getLogs", [query]) or []]

    async def close(self) -> None:
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None


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
        params = {k: (_hex(v) if isinstance(v, bytes) else v) for k, v in tx.items()}
        if "from" not in params:  # eth-tester charges calls gas, so read from a funded account
            params["from"] = self._reader or await self._run(lambda: self.tester.get_accounts()[0])
            self._reader = params["from"]
        return _bytes(await self._run(self.tester.call, params, block))

    async def send_raw(self, raw: bytes) -> str:
        return await self._run(self.tester.send_raw_transaction, _hex(raw))

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
        return _normal_receipt(r)

    async def transaction(self, tx_hash: str) -> dict | None:
        t = await self._found(self.tester.get_transaction_by_hash, tx_hash)
        return _normal_tx(t) if t else None

    async def block_number(self) -> int:
        return int((await self._run(self.tester.get_block_by_number, "latest"))["number"])

    async def code(self, address: str, block: str | int = "latest") -> bytes:
        return _bytes(await self._run(self.tester.get_code, address, block))

    async def logs(self, address: str, topics: list[bytes | None], from_block: int, to_block: int) -> list[dict]:
        wanted = [None if t is None else _hex(t) for t in topics]
        found = await self._run(lambda: self.tester.get_logs(from_block=from_block, to_block=to_block,
                                                             address=address, topics=wanted))
        return [_normal_log(entry) for entry in found]

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
