"""Keccak-256, the one hash the core needs (EIP-55 address checksums)."""

try:
    # safe-pysha3's C keccak costs ~1.4 µs a call against ~12 µs for pycryptodome's wrapper: a 100,000-row
    # payout file checksums 100,000 addresses, and that difference is most of its 1.5 s budget.
    from sha3 import keccak_256 as _fast  # type: ignore[import-untyped]  # safe-pysha3 ships no type hints
except ImportError:  # pragma: no cover - the dependency is declared; kept so a bare install still works
    _fast = None

from Crypto.Hash import keccak as _keccak


def keccak256(data: bytes) -> bytes:
    if _fast is not None:
        digest: bytes = _fast(data).digest()
        return digest
    return _keccak.new(digest_bits=256, data=data).digest()
