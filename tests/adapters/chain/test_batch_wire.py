"""executeBatch's wire format without a node: packing bulk rows, and reading a receipt's row events back."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from adapters.chain import settlement as st
from adapters.chain.batches import ROW_ID_BITS, batch_rows, pack_row
from adapters.chain.tokens import token_registry
from core.money import Token
from core.ports import PaymentOrder

CONTRACT = "0x" + "22" * 20
CRO = Token("CRO", 18, native=True)
USDC = Token("USDC", 6, "0x" + "05" * 20)
TO = "0x" + "ab" * 20


def test_rows_pack_recipient_row_id_and_token_index_and_each_token_is_listed_once():
    orders = [PaymentOrder("0x" + "00" * 32, TO, t, 7, row_id=i) for i, t in enumerate((CRO, USDC, CRO))]
    b = batch_rows(orders)
    assert b.tokens == ("0x" + "00" * 20, "0x0505050505050505050505050505050505050505")
    assert [r >> 248 for r in b.rows] == [0, 1, 0] and [r >> 160 & (2**88 - 1) for r in b.rows] == [0, 1, 2]
    assert all(r & (2**160 - 1) == int(TO, 16) for r in b.rows) and b.amounts == (7, 7, 7)


def test_an_order_without_a_row_id_or_with_one_too_large_is_refused():
    with pytest.raises(ValueError, match="row_id"):
        batch_rows([PaymentOrder("0x" + "00" * 32, TO, CRO, 1)])
    with pytest.raises(ValueError, match="outside"):
        pack_row(1 << ROW_ID_BITS, TO, 0)


def test_receipt_rows_paid_failed_and_skipped_are_decoded():
    def log(topic: bytes, *topics: int, data: bytes = b"") -> st.Log:
        return st.Log(CONTRACT, (topic, *(t.to_bytes(32, "big") for t in topics)), data)

    reason = st.selector("ZeroAmount()")
    logs = [
        log(st.ROW_SKIPPED, 3 * 256 + 1),
        log(st.ROW_FAILED, 3 * 256 + 2, data=abi_encode(["address", "address", "uint256", "bytes"],
                                                         ["0x" + "00" * 20, TO, 0, reason])),
        log(st.ROWS_PAID, 3, data=(1 << 0 | 1 << 255).to_bytes(32, "big")),
        log(st.ROWS_PAID, 4, data=(1 << 7).to_bytes(32, "big")),
        st.Log("0x" + "33" * 20, (st.ROWS_PAID, (9).to_bytes(32, "big")), (1).to_bytes(32, "big")),  # another contract
    ]
    outcome = st.payout_outcome(logs, CONTRACT, token_registry(25))
    assert outcome.paid_rows == {3 * 256, 3 * 256 + 255, 4 * 256 + 7} and outcome.paid == frozenset()
    assert outcome.failed_rows == ((3 * 256 + 1, st.ALREADY_EXECUTED), (3 * 256 + 2, "the amount must be greater than zero"))
