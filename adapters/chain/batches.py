"""executeBatch's wire format: bulk rows packed for the contract, the typed data the executor signs for them.

A row is one uint256: its recipient (bits 0-159), its row id (bits 160-247: its bit in the contract's paidRows
bitmap) and the index of its token in the batch's `tokens` (bits 248-255); its amount goes in `amounts`. The
EIP-712 struct hashes each array as the keccak of its 32-byte words, which the contract reads in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address

from core.ports import PaymentOrder

from .settlement import _DEADLINE, _DOMAIN_FIELDS, _EPOCH, ZERO, _domain, selector

EXECUTE_BATCH = selector("executeBatch(address[],uint256[],uint256[],uint256,bytes)")
IS_ROW_PAID = selector("isRowPaid(uint256)")

ROW_ID_BITS = 88
MAX_BATCH_TOKENS = 256


@dataclass(frozen=True)
class BatchRows:
    """executeBatch's arguments for some bulk rows: the distinct tokens, each row packed, each row's amount."""

    tokens: tuple[str, ...]
    rows: tuple[int, ...]
    amounts: tuple[int, ...]


def pack_row(row_id: int, recipient: str, token_index: int) -> int:
    if not 0 <= row_id < 1 << ROW_ID_BITS:
        raise ValueError(f"row id {row_id} is outside 0..2**{ROW_ID_BITS}-1")
    return token_index << 248 | row_id << 160 | int(to_checksum_address(recipient), 16)


def batch_rows(orders: list[PaymentOrder]) -> BatchRows:
    """Pack bulk orders (each with a row_id) for executeBatch, in the order given."""
    tokens: list[str] = []
    rows: list[int] = []
    for order in orders:
        if order.row_id is None:
            raise ValueError("a batch order needs a row_id (the bulk row's bit in the contract's bitmap)")
        token = ZERO if order.token.native else order.token.address
        if token is None:
            raise ValueError(f"token {order.token.symbol} has no address on this chain")
        token = to_checksum_address(token)
        if token not in tokens:
            if len(tokens) == MAX_BATCH_TOKENS:
                raise ValueError(f"one batch transaction holds at most {MAX_BATCH_TOKENS} tokens")
            tokens.append(token)
        rows.append(pack_row(order.row_id, order.recipient, tokens.index(token)))
    return BatchRows(tuple(tokens), tuple(rows), tuple(o.amount for o in orders))


def execute_batch_typed_data(chain_id: int, contract: str, batch: BatchRows, deadline: int, *, epoch: int) -> dict:
    """EIP-712 `ExecuteBatch(address[] tokens,uint256[] rows,uint256[] amounts,uint256 epoch,uint256 deadline)`
    as eth_account's full_message."""
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            "ExecuteBatch": [{"name": "tokens", "type": "address[]"}, {"name": "rows", "type": "uint256[]"},
                             {"name": "amounts", "type": "uint256[]"}, _EPOCH, _DEADLINE],
        },
        "primaryType": "ExecuteBatch",
        "domain": _domain(chain_id, contract),
        "message": {"tokens": list(batch.tokens), "rows": list(batch.rows), "amounts": list(batch.amounts),
                    "epoch": epoch, "deadline": deadline},
    }


def execute_batch_calldata(batch: BatchRows, deadline: int, signature: bytes) -> bytes:
    return EXECUTE_BATCH + abi_encode(["address[]", "uint256[]", "uint256[]", "uint256", "bytes"],
                                      [list(batch.tokens), list(batch.rows), list(batch.amounts), deadline, signature])


def is_row_paid_calldata(row_id: int) -> bytes:
    return IS_ROW_PAID + row_id.to_bytes(32, "big")
