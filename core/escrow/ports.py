"""The escrow side of the Settlement contract as the core sees it: terms, on-chain state, events, signing."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from core.money import Token
from core.ports import SignedTx


@dataclass(frozen=True)
class EscrowTerms:
    """What the funder's wallet commits to on chain. The intent hash is computed from these (and the chain and
    contract), so a funded intent can only ever pay `recipient` `amount` of `token`, or go back to its funder."""

    token: Token
    recipient: str
    amount: int  # base units the recipient gets on release
    expiry: int  # unix seconds: from then on the funder may take the funds back without the bot
    salt: str  # 0x + 64 hex, random per intent


class OnChain(str, enum.Enum):
    NONE = "none"  # nothing funded under this hash yet
    OPEN = "open"  # funded (perhaps partly), neither released nor refunded
    RELEASED = "released"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class EscrowState:
    """The contract's record of one intent hash (authoritative: events only say where to look)."""

    status: OnChain
    funder: str | None = None
    funded: int = 0  # base units held for it now (while open), or held when it closed


@dataclass(frozen=True)
class EscrowEvent:
    """IntentFunded / IntentReleased / IntentRefunded, as logged. Seen twice (a re-read after a reorg margin),
    it is the same (tx_hash, log_index)."""

    kind: str  # "funded" | "released" | "refunded"
    intent_hash: str
    block_number: int
    tx_hash: str
    log_index: int
    funder: str | None = None  # funded: who sent it
    value: int = 0  # funded: what this transaction added; released/refunded: what left


class EscrowChain(Protocol):
    """Raises ChainUnavailable when the node is down; ChainRejected (a plain sentence) when the contract would
    revert a release or refund."""

    def intent_hash(self, terms: EscrowTerms) -> str:
        """The hash the contract computes for these terms: 0x + 64 hex."""

    def funding_links(self, terms: EscrowTerms, value: int) -> list[str]:
        """EIP-681 links a phone wallet opens to fund `value` base units: for the native coin one call of the
        Settlement with the value; for an ERC-20 the token's approve, then the Settlement's fund call."""

    async def escrow(self, intent_hash: str) -> EscrowState: ...

    async def head(self) -> tuple[int, int]:
        """The latest block's number and timestamp (unix seconds): the watcher's clock for due times."""

    async def events(self, from_block: int, to_block: int) -> list[EscrowEvent]:
        """Escrow events of the Settlement in [from_block, to_block], in chain order."""

    async def sign_release(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        """The executor's release of an open, fully funded intent: the recipient gets the amount, the funder any
        surplus. Simulates first."""

    async def sign_refund(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        """The executor's refund of an open intent to its funder (a /cancel, or an expired intent)."""
