"""What a node's refusal of a transaction means: the chain adapter's kinds of ChainRejected, read from its message."""

from __future__ import annotations

from core.errors import ChainRejected

# Wording differs between geth, anvil, eth-tester and public RPC providers; the checks are on lower-cased text.
_KNOWN = ("already known", "known transaction", "already imported")
_NONCE_SPENT = ("nonce too low", "nonce is too low", "invalid nonce", "invalid transaction nonce", "already used")
_UNDERPRICED = ("underpriced", "fee too low")
_NO_FUNDS = ("insufficient funds", "enough balance")


class NonceAlreadyUsed(ChainRejected):
    """The node says this nonce is spent by a different transaction: the nonce store must resync."""

    def __init__(self, message: str, nonce: int | None) -> None:
        super().__init__(message)
        self.nonce = nonce


class ReplacementUnderpriced(ChainRejected):
    """A transaction with this nonce is pending with a fee at least as high: sign again with bump + 1."""


class SignatureRefused(ChainRejected):
    """The simulation says InvalidSignature: the cached executor epoch may be stale."""


def _says(message: str, phrases: tuple[str, ...]) -> bool:
    text = message.lower()
    return any(phrase in text for phrase in phrases)


def already_known(message: str) -> bool:
    """The node holds this very transaction already: sending it again is a success."""
    return _says(message, _KNOWN)


def nonce_spent(message: str) -> bool:
    """The transaction's nonce is used (by it, if it was mined, or by another one)."""
    return _says(message, _NONCE_SPENT)


def refusal(message: str, raw: bytes, executor: str) -> ChainRejected:
    """The ChainRejected for a node's refusal of `raw`, signed by `executor`, with a sentence for the reply."""
    if nonce_spent(message):
        return NonceAlreadyUsed(
            "the executor's nonce for this transaction was already used by another transaction", _nonce_of(raw)
        )
    if _says(message, _UNDERPRICED):
        return ReplacementUnderpriced(
            "a transaction with the same nonce is pending with a higher fee; sign it again with a bump"
        )
    if _says(message, _NO_FUNDS):
        return ChainRejected(
            f"the executor account {executor} does not hold enough of the native coin to pay the network fee; top it up"
        )
    return ChainRejected(f"the node refused the transaction: {message[:200]}")


def _nonce_of(raw: bytes) -> int | None:
    try:
        from eth_account.typed_transactions import TypedTransaction
        from hexbytes import HexBytes

        return int(TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["nonce"])
    except Exception:
        return None
