"""Which tokens SnowRail knows on a chain: the native coin, the ERC-20s known per chain id, and the TOKENS setting."""

from __future__ import annotations

from eth_utils import to_checksum_address

from core.addresses import parse_address
from core.money import STANDARD_DECIMALS, Token, TokenRegistry

# Cronos mainnet tokens (checked against their EIP-55 checksums); testnet tokens must come from TOKENS.
KNOWN_TOKENS: dict[int, dict[str, str]] = {
    25: {
        "WCRO": "0x5C7F8A570d578ED84E63fdFA7b1eE72dEae1AE23",
        "USDC": "0xc21223249CA28397B4B6541dfFaEcC539BfF0c59",
        "USDT": "0x66e428c3f67a68878562e79A0234c1F83c208770",
    },
}


def parse_tokens_setting(text: str) -> dict[str, tuple[str, int]]:
    """TOKENS setting "USDC=0x...,USDT=0x...,FOO:8=0x..." -> {symbol: (address, decimals)}. Decimals default
    to the standard ones (USDC/USDT 6, WCRO 18); other symbols must say theirs with SYMBOL:decimals."""
    out: dict[str, tuple[str, int]] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, address = part.partition("=")
        if not sep:
            raise ValueError(f"TOKENS: “{part}” should look like SYMBOL=0x… (or SYMBOL:decimals=0x…)")
        symbol, _, decimals_text = name.strip().partition(":")
        symbol = symbol.strip().upper()
        if decimals_text:
            decimals = int(decimals_text)
        elif symbol in STANDARD_DECIMALS:
            decimals = STANDARD_DECIMALS[symbol]
        else:
            raise ValueError(f"TOKENS: say the decimals of {symbol}, like {symbol}:18=0x…")
        out[symbol] = (parse_address(address, field="TOKENS"), decimals)
    return out


def token_registry(chain_id: int, tokens: str | dict[str, str] | None = None) -> TokenRegistry:
    """CRO (native, 18 decimals) plus the ERC-20s known on `chain_id`, overridden or extended by `tokens`
    (a TOKENS setting string, or {symbol: address} as deploy_stack returns for dev chains)."""
    entries: dict[str, tuple[str, int]] = {
        s: (a, STANDARD_DECIMALS[s]) for s, a in KNOWN_TOKENS.get(chain_id, {}).items()
    }
    if isinstance(tokens, str):
        entries.update(parse_tokens_setting(tokens))
    elif tokens:
        entries.update({s.upper(): (to_checksum_address(a), STANDARD_DECIMALS.get(s.upper(), 18)) for s, a in tokens.items()})
    return TokenRegistry([Token("CRO", 18, native=True)] + [Token(s, d, a) for s, (a, d) in entries.items()])
