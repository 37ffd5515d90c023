"""Wallet proofs: which address signed a message (EIP-191 personal_sign), with the refusal a user can act on."""

from __future__ import annotations

import re

from eth_account import Account
from eth_account.messages import encode_defunct

from core.errors import UserError

_SIGNATURE = re.compile(r"^(0x)?[0-9a-fA-F]{130}$")


def recover_signer(message: str, signature: str) -> str:
    """The address whose key signed `message` into `signature`; UserError if it is not a valid signature."""
    text = (signature or "").strip()
    if not _SIGNATURE.match(text):
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise UserError(
            f"signature: “{shown}” is not a signature; paste the 0x… value your wallet produced "
            "(65 bytes: 0x followed by 130 hex digits)",
            field="signature",
        )
    try:
        return Account.recover_message(encode_defunct(text=message), signature=bytes.fromhex(text[-130:]))
    except Exception:  # eth_keys raises several types for an invalid v, r or s
        raise UserError(
            "signature: it is not a valid signature of this message; sign the exact message again",
            field="signature",
        ) from None
