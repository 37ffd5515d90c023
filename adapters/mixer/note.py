"""Mixer notes: `snowrail-<token>-<amount>-<chainId>-0x<nullifier||secret>`, their secrets and their hashes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from core.errors import UserError

from .poseidon import poseidon

PREFIX = "snowrail"
SECRET_BYTES = 31  # 248 bits: always below the BN254 field, so every value is a valid circuit input
KEY_HEX = 4 * SECRET_BYTES  # nullifier and secret, hex
_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,10}$")
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# Anything shaped like a note, even with a wrong part, so a note pasted where it should not be is caught.
_LOOKS_LIKE = re.compile(r"snowrail-[^\s-]*-[^\s-]*-[^\s-]*-(?:0x)?[0-9a-fA-F]{32,}", re.IGNORECASE)


class NoteError(UserError):
    """A note that does not parse; `part` names the part that is wrong. Never includes the note itself."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(f"note {part}: {message}", field="note")
        self.part = part


@dataclass(frozen=True)
class Note:
    """A deposit's bearer secret. repr() hides the secrets: a Note in a log or traceback leaks nothing."""

    token: str
    amount: str  # canonical decimal text of the pool's denomination, e.g. "0.1"
    chain_id: int
    nullifier: int = field(repr=False)
    secret: int = field(repr=False)

    @classmethod
    def generate(cls, token: str, amount: str | Decimal, chain_id: int) -> Note:
        return cls(token.lower(), canonical_amount(amount), chain_id,
                   secrets.randbits(8 * SECRET_BYTES) | 1, secrets.randbits(8 * SECRET_BYTES) | 1)

    @property
    def text(self) -> str:
        key = self.nullifier.to_bytes(SECRET_BYTES, "big") + self.secret.to_bytes(SECRET_BYTES, "big")
        return f"{PREFIX}-{self.token}-{self.amount}-{self.chain_id}-0x{key.hex()}"

    @property
    def commitment(self) -> int:
        return poseidon(self.nullifier, self.secret)

    @property
    def nullifier_hash(self) -> int:
        return poseidon(self.nullifier)

    def __str__(self) -> str:
        return f"{PREFIX}-{self.token}-{self.amount}-{self.chain_id}-0x…"


def canonical_amount(amount: str | Decimal) -> str:
    value = Decimal(str(amount))
    if value <= 0:
        raise ValueError("a pool's amount must be positive")
    text = format(value.normalize(), "f")
    return text


def parse_note(text: str) -> Note:
    """The note in `text` (surrounding spaces allowed). Raises NoteError naming the wrong part."""
    parts = text.strip().split("-")
    if not parts or parts[0].lower() != PREFIX:
        raise NoteError("prefix", f"a note starts with “{PREFIX}-”; check that you pasted the whole note")
    if len(parts) != 5:
        raise NoteError(
            "format",
            f"a note has 5 parts separated by “-” ({PREFIX}-<token>-<amount>-<chainId>-0x<key>), this has {len(parts)}",
        )
    _, token, amount, chain, key = parts
    if not _TOKEN.match(token):
        raise NoteError("token", "the token part should be a symbol such as cro")
    if not _AMOUNT.match(amount):
        raise NoteError("amount", "the amount part should be a number such as 0.1")
    try:
        amount = canonical_amount(amount)
    except (InvalidOperation, ValueError):
        raise NoteError("amount", "the amount part must be a positive number") from None
    if not chain.isdigit() or chain.startswith("0"):
        raise NoteError("chainId", "the chain part should be a chain id such as 25 (Cronos)")
    if not key.lower().startswith("0x"):
        raise NoteError("key", "the key part should start with 0x")
    digits = key[2:]
    if len(digits) != KEY_HEX:
        raise NoteError("key", f"the key should be {KEY_HEX} hex digits after 0x, this one has {len(digits)}; "
                               "part of it may be missing")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise NoteError("key", "the key has characters that are not hex digits (0-9, a-f)") from None
    nullifier = int.from_bytes(raw[:SECRET_BYTES], "big")
    secret = int.from_bytes(raw[SECRET_BYTES:], "big")
    if nullifier == 0 or secret == 0:
        raise NoteError("key", "the key's nullifier or secret is zero: this is not a note the bot made")
    return Note(token.lower(), amount, int(chain), nullifier, secret)


def contains_note(text: str) -> bool:
    """Whether `text` seems to hold a note (or most of one): used to catch notes pasted in public."""
    return bool(_LOOKS_LIKE.search(text or ""))
