"""The node port (`Node`, `RpcError`) and its JSON-RPC transport over one persistent HTTP session.

Every transport (this one, and eth-tester in adapters.chain.tester) exposes the same small async API with
normalised Python values, so `Web3Chain` has one code path.
Why not `AsyncWeb3(AsyncHTTPProvider)` for HTTP: its default session closes the connection after every
request, it retries failed requests (delaying ChainUnavailable) and it logs the endpoint URL, which may
carry an API key, at debug level. The URL is kept private here and errors name only host and port.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from core.errors import ChainUnavailable
from core.metrics import Metrics, NoMetrics

from .wire import as_bytes, as_hex, as_int, normal_log, normal_receipt, normal_tx

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
    async def batch(self, calls: list[tuple[str, list]]) -> list[Any | RpcError]:
        """Several calls at once (one HTTP request where the transport allows); each slot holds the result
        or the RpcError."""
    async def close(self) -> None: ...


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

    def __init__(self, url: str, *, timeout: float = 10.0, metrics: Metrics | None = None) -> None:
        self._url = url
        self._metrics = metrics or NoMetrics()  # each call's latency and outcome (snowrail_rpc_*)
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
            data = as_bytes(raw) if isinstance(raw, str) and raw.startswith("0x") else None
            if "revert" in message.lower() or error.get("code") == 3:
                raise Reverted(message, code=int(error.get("code", 0)), data=data or b"")
            raise RpcError(message, code=int(error.get("code", 0)), data=data)
        return payload.get("result")

    async def request(self, method: str, params: list) -> Any:
        payload = await self._timed(method, {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        return self._result(payload)

    async def _timed(self, method: str, body: Any) -> Any:
        started, outcome = time.perf_counter(), "unavailable"
        try:
            payload = await self._post(body)
            outcome = "rpc_error" if isinstance(payload, dict) and payload.get("error") is not None else "ok"
            return payload
        finally:
            self._metrics.rpc(method, time.perf_counter() - started, outcome)

    async def batch(self, calls: list[tuple[str, list]]) -> list[Any | RpcError]:
        """Several calls in one HTTP request; each slot holds the result or the RpcError."""
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answers = await self._timed("batch", body)
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
        return as_int(await self.request("eth_chainId", []))

    async def pending_nonce(self, address: str) -> int:
        return as_int(await self.request("eth_getTransactionCount", [address, "pending"]))

    async def base_fee(self) -> int:
        block = await self.request("eth_getBlockByNumber", ["latest", False])
        return as_int(block.get("baseFeePerGas"))

    async def priority_fee(self) -> int:
        try:
            return as_int(await self.request("eth_maxPriorityFeePerGas", []))
        except RpcError:
            return 10**9

    async def balance(self, address: str) -> int:
        return as_int(await self.request("eth_getBalance", [address, "latest"]))

    async def call(self, tx: dict, block: str | int = "latest") -> bytes:
        """eth_call; `tx` keys are from/to/data/value/gas and optionally the snake_case fee fields
        max_fee_per_gas, max_priority_fee_per_gas or gas_price."""
        params = {_CAMEL.get(k, k): (as_hex(v) if isinstance(v, (bytes, int)) else v) for k, v in tx.items()}
        tag = hex(block) if isinstance(block, int) else block
        return as_bytes(await self.request("eth_call", [params, tag]))

    async def send_raw(self, raw: bytes) -> str:
        return await self.request("eth_sendRawTransaction", [as_hex(raw)])

    async def receipt(self, tx_hash: str) -> dict | None:
        r = await self.request("eth_getTransactionReceipt", [tx_hash])
        if not r or r.get("blockNumber") is None:
            return None
        return normal_receipt(r)

    async def transaction(self, tx_hash: str) -> dict | None:
        t = await self.request("eth_getTransactionByHash", [tx_hash])
        return normal_tx(t) if t else None

    async def block_number(self) -> int:
        return as_int(await self.request("eth_blockNumber", []))

    async def code(self, address: str, block: str | int = "latest") -> bytes:
        return as_bytes(await self.request("eth_getCode", [address, hex(block) if isinstance(block, int) else block]))

    async def logs(self, address: str, topics: list[bytes | None], from_block: int, to_block: int) -> list[dict]:
        query = {"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block),
                 "topics": [None if t is None else as_hex(t) for t in topics]}
        return [normal_log(entry) for entry in await self.request("eth_getLogs", [query]) or []]

    async def close(self) -> None:
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
