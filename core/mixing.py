"""The privacy mixer as the core sees it: notes, deposits, withdrawals, and the Mixer port."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from core.money import Amount


@dataclass(frozen=True)
class MixNote:
    """A new note. `text` is a bearer secret: deliver it once, privately, and never store or log it."""

    text: str = field(repr=False)
    commitment: str  # 0x + 64 hex: public, what the pool's deposit() takes
    pool: str  # the pool contract for this amount
    amount: Amount
    payment_uri: str  # EIP-681: call deposit(commitment) on the pool with exactly `amount`
    payment_qr: bytes = field(default=b"", repr=False)  # PNG of payment_uri (public data), for phone wallets


@dataclass(frozen=True)
class MixDeposit:
    tx_hash: str
    leaf_index: int
    anonymity_set: int  # deposits in the pool so far


@dataclass(frozen=True)
class MixWithdrawal:
    tx_hash: str
    recipient: str
    received: Amount  # the denomination less the relayer's fee
    fee: Amount
    anonymity_set: int


class Mixer(Protocol):
    """Fixed-denomination privacy pools and the relayer that withdraws from them with zero-knowledge proofs.

    Raises UserError with a plain sentence for anything the user can fix (a malformed note names the wrong
    part; a spent note; a note for another chain or pool; a relayer short of gas) and TransientError when
    the node or the prover is unavailable. No message ever contains a note."""

    def denominations(self) -> list[Amount]: ...

    def new_note(self, amount: Amount) -> MixNote:
        """A fresh note for the pool of exactly `amount`; raises UserError if there is none."""

    async def deposited(self, commitment: str) -> MixDeposit | None:
        """The deposit of `commitment` if it is in a pool's tree (synced from the chain now), else None."""

    async def withdraw(self, note: str, recipient: str, user_ref: str) -> MixWithdrawal:
        """Proves and relays a withdrawal of `note` to `recipient` for `user_ref`, paying gas, and waits for
        the receipt. Refuses (UserError naming the limit and when it resets) a note or a user whose relays
        failed too often in the last hour, so nobody can make the relayer burn gas on them without bound."""

    def watch(self, commitment: str, user_ref: str) -> None:
        """Remember, in memory only, whom to tell when a deposit of this commitment reaches the chain."""

    async def landed(self) -> list[tuple[str, MixDeposit]]:
        """Watched deposits that reached the chain since the last call, as (user_ref, deposit)."""
