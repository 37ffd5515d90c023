"""EVM addresses: format, EIP-55 checksum, and the short form shown in chat."""

from __future__ import annotations

import re

from core.errors import UsageError
from core.keccak import keccak256

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
ZERO_ADDRESS = "0x" + "0" * 40


_LETTER = bytes(0x20 if chr(b) in "abcdef" else 0 for b in range(256))  # lowercase hex letter -> its case bit
_HIGH = bytes(0x20 if chr(b) in "89abcdef" else 0 for b in range(256))  # hash nibble >= 8 -> uppercase


def to_checksum(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 40-hex address (any case)."""
    body = address[2:].lower().encode("ascii")
    digest = keccak256(body).hex().encode("ascii")
    # Clearing the case bit of exactly the letters whose hash nibble is >= 8, as one integer operation:
    # bulk files check 10,000 addresses in one go.
    flip = int.from_bytes(body.translate(_LETTER), "big") & int.from_bytes(digest[:40].translate(_HIGH), "big")
    return "0x" + (int.from_bytes(body, "big") - flip).to_bytes(40, "big").decode("ascii")


def parse_address(text: str, *, field: str = "address") -> str:
    """Validate text as an address and return it checksummed, or raise UsageError naming the problem."""
    raw = text.strip()
    shown = raw if len(raw) <= 50 else raw[:50] + "…"
    if not raw.lower().startswith("0x"):
        raise UsageError(f"{field}: {shown} must start with 0x followed by 40 hex digits", field=field)
    body = raw[2:]
    if len(body) != 40:
        raise UsageError(
            f"{field}: {shown} has {len(body)} hex digits after 0x; an address has exactly 40", field=field
        )
    if not _HEX40.match(body):
        raise UsageError(f"{field}: {shown} contains characters that are not hex digits (0-9, a-f)", field=field)
    if int(body, 16) == 0:
        raise UsageError(f"{field}: the zero address burns funds and is refused", field=field)
    checksummed = to_checksum("0x" + body)
    mixed = body != body.lower() and body != body.upper()
    if mixed and checksummed[2:] != body:
        raise UsageError(
            f"{field}: checksum (EIP-55) does not match for {shown}; check it for a typo, "
            "or paste it in all lowercase",
            field=field,
        )
    return checksummed


def short(address: str) -> str:
    """0x1234…abcd: enough to recognise, too short to copy by mistake."""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address
