"""Safe's CSV Airdrop columns (token_type, token_address): which token of this chain a row pays, or why none."""

from __future__ import annotations

import re

from core.bulk.records import shown
from core.money import Token, TokenRegistry

NFT_TYPES = frozenset({"nft", "erc721", "erc1155"})
_ADDRESS = re.compile(r"^0[xX][0-9a-fA-F]{40}$")


def safe_token(token_type: object, token_address: object, tokens: TokenRegistry) -> tuple[Token | None, str | None]:
    """The token a Safe Airdrop row pays: `native` or an empty address is the native coin; `erc20` (or no
    type) with an address is looked up in this chain's registry by address, whatever its case."""
    kind = token_type.strip().lower() if isinstance(token_type, str) else ""
    address = token_address.strip() if isinstance(token_address, str) else ""
    if token_type is not None and not isinstance(token_type, str):
        return None, "token_type: must be text: native or erc20"
    if token_address is not None and not isinstance(token_address, str):
        return None, "token_address: must be text, 0x followed by 40 hex digits"
    if kind in NFT_TYPES:
        return None, f"token_type: {kind}: NFT transfers are not supported; pay native or erc20 tokens"
    if kind not in ("", "native", "erc20"):
        return None, f"token_type: unknown type “{shown(kind, 24)}”; use native or erc20 (or leave it empty)"
    if not address:
        return tokens.native, None
    if not _ADDRESS.match(address):
        return None, f"token_address: “{shown(address, 50)}” is not a token address (0x followed by 40 hex digits)"
    token = tokens.by_address(address)
    if token is None:
        known = ", ".join(f"{t.symbol} {t.address}" for t in tokens if t.address) or "none (no chain is configured)"
        return None, f"token_address: unknown token {address} on this chain; known tokens: {known}"
    if kind == "native" and not token.native:
        return None, f"token_address: a native row takes no token address, but {address} is {token.symbol}"
    return token, None
