"""An escrowed intent and its state machine: created, funded from the member's wallet, released or refunded."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.model import IllegalTransition


class EscrowStatus(str, enum.Enum):
    AWAITING = "awaiting"  # created; the contract holds less than the amount (maybe nothing yet)
    FUNDED = "funded"  # the contract holds at least the amount; waiting for its condition
    RELEASING = "releasing"  # a signed release is stored (and maybe broadcast)
    RELEASED = "released"  # the recipient was paid (any surplus went back to the funder)
    REFUNDING = "refunding"  # a signed refund is stored (a /cancel, or expiry with funds held)
    REFUNDED = "refunded"  # everything held went back to the funder (by us, or by the funder after expiry)
    CANCELLED = "cancelled"  # cancelled or expired while nothing was held: nothing to give back


class Condition(str, enum.Enum):
    MANUAL = "manual"  # the funder releases with /release
    TIME = "time"  # released at `due_at`
    PRICE = "price"  # released when `pair` is above/below `threshold`


_ALLOWED: dict[EscrowStatus, set[EscrowStatus]] = {
    EscrowStatus.AWAITING: {EscrowStatus.FUNDED, EscrowStatus.REFUNDING, EscrowStatus.REFUNDED, EscrowStatus.CANCELLED},
    EscrowStatus.FUNDED: {EscrowStatus.RELEASING, EscrowStatus.REFUNDING, EscrowStatus.RELEASED, EscrowStatus.REFUNDED},
    EscrowStatus.RELEASING: {EscrowStatus.RELEASED, EscrowStatus.FUNDED, EscrowStatus.REFUNDED},  # FUNDED: release failed
    EscrowStatus.REFUNDING: {EscrowStatus.REFUNDED, EscrowStatus.RELEASED, EscrowStatus.FUNDED, EscrowStatus.AWAITING},
    EscrowStatus.RELEASED: set(),
    EscrowStatus.REFUNDED: set(),
    EscrowStatus.CANCELLED: set(),
}
OPEN = frozenset({EscrowStatus.AWAITING, EscrowStatus.FUNDED, EscrowStatus.RELEASING, EscrowStatus.REFUNDING})


@dataclass
class EscrowIntent:
    """A payment a member funds themselves: the Settlement holds `funded` under `intent_hash` (whose terms bind
    token, recipient, amount, expiry and salt) until it is released to the recipient or refunded to the funder."""

    id: str  # "int-…"
    key: str  # the idempotency key of the /pay that created it
    actor_ref: str  # who created it: the only one who may fund, release or cancel it
    recipient: str
    token: str  # symbol
    amount: int  # base units
    salt: str  # 0x + 64 hex
    intent_hash: str  # 0x + 64 hex, as the contract computes it from the terms
    expires_at: datetime  # the terms' expiry: the funder may refundExpired on chain from then on
    created_at: datetime
    updated_at: datetime
    condition: Condition = Condition.MANUAL
    status: EscrowStatus = EscrowStatus.AWAITING
    recipient_ref: str | None = None
    memo: str | None = None
    due_at: datetime | None = None  # Condition.TIME
    pair: str | None = None  # Condition.PRICE, e.g. "CRO/USD"
    above: bool | None = None  # Condition.PRICE: True "above", False "below"
    threshold: int | None = None  # Condition.PRICE: the price scaled to the feed's decimals
    price_decimals: int | None = None
    funded: int = 0  # base units the contract holds for it (read from the contract, never summed from events)
    funder: str | None = None  # the wallet that funded it (first funding)
    nonce: int | None = None  # of the stored release/refund
    raw_tx: bytes | None = None  # the signed release/refund, stored before it is broadcast
    tx_hash: str | None = None
    submitted_at: datetime | None = None
    settled_at: datetime | None = None
    error: str | None = None
    note: str | None = None  # why a condition that holds did not fire (e.g. "the CRO/USD feed is stale since …")

    def move(self, to: EscrowStatus, now: datetime) -> None:
        if to not in _ALLOWED[self.status]:
            raise IllegalTransition(f"{self.id} is {self.status.value} and cannot become {to.value}")
        self.status, self.updated_at = to, now

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @property
    def fully_funded(self) -> bool:
        return self.funded >= self.amount
