"""Keccak-256, the one hash the core needs (EIP-55 address checksums)."""

from Crypto.Hash import keccak as _keccak


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()
