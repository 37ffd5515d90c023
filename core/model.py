"""What SnowRail keeps: users, payment intents and their state machine, notifications, audit entries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import UserError


class IntentStatus(str, enum.Enum):
    PENDING = "pending"  # recorded, nothing signed yet (or waiting for /confirm)
    SUBMITTED = "submitted"  # signed transaction stored (and possibly broadcast)
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_ALLOWED: dict[IntentStatus, set[IntentStatus]] = {
    IntentStatus.PENDING: {IntentStatus.SUBMITTED, IntentStatus.CANCELLED, IntentStatus.FAILED},
    IntentStatus.SUBMITTED: {IntentStatus.CONFIRMED, IntentStatus.FAILED},
    IntentStatus.CONFIRMED: set(),
    IntentStatus.FAILED: set(),
    IntentStatus.CANCELLED: set(),
}

TERMINAL = {IntentStatus.CONFIRMED, IntentStatus.FAILED, IntentStatus.CANCELLED}


class IllegalTransition(UserError):
    pass


@dataclass
class Intent:
    """One payment from the treasury, from the moment it is asked for until the chain settles it."""

    id: str
    key: str
    actor_ref: str
    recipient: str
    token: str
    amount: int
    intent_hash: str
    created_at: datetime
    updated_at: datetime
    status: IntentStatus = IntentStatus.PENDING
    recipient_ref: str | None = None
    memo: str | None = None
    needs_confirmation: bool = False
    nonce: int | None = None
    raw_tx: bytes | None = None
    tx_hash: str | None = None
    fee: int | None = None
    block_number: int | None = None
    error: str | None = None
    submitted_at: datetime | None = None
    # A deposit into a mixer pool (the recipient) for this public commitment; never the note behind it.
    mixer_commitment: str | None = None

    def move(self, to: IntentStatus, now: datetime) -> None:
        if to not in _ALLOWED[self.status]:
            raise IllegalTransition(f"{self.id} is {self.status.value} and cannot become {to.value}")
        self.status = to
        self.updated_at = now

    def submit(self, *, nonce: int, raw_tx: bytes, tx_hash: str, now: datetime) -> None:
        self.move(IntentStatus.SUBMITTED, now)
        self.nonce, self.raw_tx, self.tx_hash, self.submitted_at = nonce, raw_tx, tx_hash, now

    def resign(self, *, raw_tx: bytes, tx_hash: str, now: datetime) -> None:
        """A replacement with the same nonce (higher fee) for a transaction stuck in the mempool. The intent
        shows the latest; every attempt, earlier ones included, is kept as an Attempt (any may be mined)."""
        if self.status is not IntentStatus.SUBMITTED:
            raise IllegalTransition(f"{self.id} is {self.status.value}; only submitted payments are replaced")
        self.raw_tx, self.tx_hash, self.submitted_at, self.updated_at = raw_tx, tx_hash, now, now

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Attempt:
    """One signed transaction of a payment: the first, or a fee-bumped replacement with the same nonce.
    Every attempt is kept, because any one of them may be the one that gets mined."""

    intent_id: str
    tx_hash: str
    nonce: int
    bump: int  # 0 for the first; replacements count fee steps (+12.5% or more each)
    raw_tx: bytes = field(repr=False)
    created_at: datetime
    max_fee: int | None = None  # per gas, in the native coin's base units, as signed
    tip: int | None = None


@dataclass
class User:
    """A person on one platform, with the wallet they proved they own, if any."""

    ref: str
    platform: str
    platform_user_id: str
    display_name: str = ""
    handle: str | None = None
    wallet: str | None = None
    wallet_proof: str | None = None
    dm_blocked: bool = False
    created_at: datetime | None = None
    # When the platform last told us they hold `handle` (Telegram usernames change hands): a payment by
    # handle to someone not seen holding it recently warns the payer before they confirm.
    handle_seen_at: datetime | None = None
    tz: str | None = None  # the IANA zone they set with /tz (times they type and see); None: UTC


class NotificationType(str, enum.Enum):
    PAYMENT_SENT = "payment_sent"
    PAYMENT_RECEIVED = "payment_received"
    TRANSACTION_PENDING = "transaction_pending"
    TRANSACTION_CONFIRMED = "transaction_confirmed"
    TRANSACTION_FAILED = "transaction_failed"
    DEPOSIT_CONFIRMED = "deposit_confirmed"
    WITHDRAWAL_READY = "withdrawal_ready"
    INTENT_FUNDED = "intent_funded"
    INTENT_EXECUTED = "intent_executed"
    INTENT_REFUNDED = "intent_refunded"  # an escrowed intent's funds went back to its funder (cancel, expiry)
    INTENT_EXPIRED = "intent_expired"  # an escrowed intent expired before anything was funded: nothing to give back
    BATCH_PROGRESS = "batch_progress"
    BATCH_COMPLETE = "batch_complete"
    SECURITY_ALERT = "security_alert"
    APPROVAL_REQUEST = "approval_request"  # to an approver: a payment waits for their decision (with buttons)
    APPROVAL_OUTCOME = "approval_outcome"  # to the requester and approvers: approved and paid, rejected, expired
    SCHEDULE_REMINDER = "schedule_reminder"  # to a schedule's owner before a run, with Skip and Pause buttons
    SCHEDULE_RESULT = "schedule_result"  # to a schedule's owner: a run missed, refused, or left pending
    PRICE_ALERT = "price_alert"  # a pair crossed the price someone asked about (/alert), once per crossing
    SIGN_IN_LINK = "sign_in_link"  # /dashboard: a one-time link to the web dashboard (core.signin)


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    UNDELIVERABLE = "undeliverable"


@dataclass
class Notification:
    """An outbox row: written with the state change that caused it, delivered later at least once."""

    dedup_key: str
    user_ref: str
    type: NotificationType
    body: str  # a Reply serialised with replies.dumps
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    id: int | None = None


@dataclass
class ProcessedKey:
    """The first outcome of a command under an idempotency key; a repeat gets this instead of acting."""

    key: str
    command: str
    actor_ref: str
    created_at: datetime
    intent_id: str | None = None
    reply: str | None = None  # a Reply serialised with replies.dumps


@dataclass
class AuditEntry:
    actor_ref: str
    command: str
    key: str
    outcome: str  # ok | refused | limited | invalid | error | transient | repeat
    detail: str
    at: datetime
    id: int | None = None
    role: str | None = None  # the actor's role when they asked (core.roles.Role value); None: not looked up
    # The amount the command names, exact: base units of `token`, with its decimals so it reads without the chain.
    amount: int | None = None
    token: str | None = None
    decimals: int | None = None


@dataclass
class LinkChallenge:
    """A one-time message a user signs to prove they control `address`."""

    id: str
    actor_ref: str
    address: str
    message: str
    created_at: datetime
    expires_at: datetime
    used: bool = False


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    ok: bool
    block_number: int
    gas_used: int
    fee: int  # in the native coin's base units
    reason: str | None = None  # a plain sentence when not ok
    paid: frozenset[str] = field(default_factory=frozenset)  # intent hashes the contract paid
    failed: tuple[tuple[str, str], ...] = ()  # (intent hash, reason) the contract refused within a batch
    paid_rows: frozenset[int] = field(default_factory=frozenset)  # bulk row ids an executeBatch paid
    failed_rows: tuple[tuple[int, str], ...] = ()  # (row id, reason) an executeBatch refused or found paid


class ApprovalStatus(str, enum.Enum):
    WAITING = "waiting"  # collecting approvals; the intent stays pending and nothing is signed
    APPROVED = "approved"  # the k-th approval arrived: the payment goes (or went) to signing
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # withdrawn by the requester (/cancel)


@dataclass
class ApprovalRequest:
    """A payment above the approval threshold, waiting for `required` distinct approvers (never the requester)."""

    intent_id: str
    requester_ref: str
    required: int
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = ApprovalStatus.WAITING
    decided_at: datetime | None = None
    decided_by: str | None = None  # who approved last, rejected it, or "expiry"
    reason: str | None = None  # a rejection's reason


@dataclass(frozen=True)
class Spend:
    """What one request took (or will take) from the treasury: a payment, a mixer deposit, or a batch's rows of
    one token, at the time it counts from for the daily limit."""

    token: str
    amount: int
    at: datetime


@dataclass(frozen=True)
class Vote:
    """One approver's decision on one request, stored with who and when (at most one per approver)."""

    intent_id: str
    approver_ref: str
    approve: bool
    at: datetime
    reason: str | None = None
