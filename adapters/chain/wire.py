"""Values to and from an EVM node in one shape for every transport: ints, bytes, hex; receipts, transactions, logs."""

from __future__ import annotations

from typing import Any

from .settlement import Log


def as_int(value: Any) -> int:
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)


def as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def as_hex(value: bytes | int) -> str:
    return hex(value) if isinstance(value, int) else "0x" + bytes(value).hex()


def normal_receipt(r: dict) -> dict:
    """Receipts in one shape: status, block_number, gas_used, effective_gas_price, to, logs[Log]."""

    def get(camel: str, snake: str) -> Any:
        return r[camel] if camel in r else r.get(snake)

    return {
        "status": as_int(get("status", "status")),
        "block_number": as_int(get("blockNumber", "block_number")),
        "gas_used": as_int(get("gasUsed", "gas_used")),
        "effective_gas_price": as_int(get("effectiveGasPrice", "effective_gas_price")),
        "logs": [
            Log(entry["address"], tuple(as_bytes(t) for t in entry["topics"]), as_bytes(entry["data"]))
            for entry in r.get("logs", [])
        ],
    }


def normal_tx(t: dict) -> dict:
    def get(camel: str, snake: str) -> Any:
        return t[camel] if camel in t else t.get(snake)

    block = get("blockNumber", "block_number")
    max_fee = get("maxFeePerGas", "max_fee_per_gas")
    fees = (
        {"max_fee_per_gas": as_int(max_fee),
         "max_priority_fee_per_gas": as_int(get("maxPriorityFeePerGas", "max_priority_fee_per_gas"))}
        if max_fee is not None else {"gas_price": as_int(get("gasPrice", "gas_price"))}
    )
    return {
        "from": t["from"],
        "to": t.get("to"),
        "input": as_bytes(get("input", "data") or b""),
        "value": as_int(t.get("value")),
        "gas": as_int(t.get("gas")),
        "nonce": as_int(t.get("nonce")),
        "block_number": None if block is None else as_int(block),
        "fees": fees,  # as call() takes them: replaying with them makes tx.gasprice what it was
    }


def normal_log(entry: dict) -> dict:
    def get(camel: str, snake: str) -> Any:
        return entry[camel] if camel in entry else entry.get(snake)

    tx_hash = get("transactionHash", "transaction_hash")
    return {
        "tx_hash": tx_hash if isinstance(tx_hash, str) else as_hex(tx_hash),
        "block_number": as_int(get("blockNumber", "block_number")),
        "log_index": as_int(get("logIndex", "log_index")),
        "topics": tuple(as_bytes(t) for t in entry["topics"]),
        "data": as_bytes(entry["data"]),
    }
