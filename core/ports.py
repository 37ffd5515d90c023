"""The outside world as the core sees it: typing.Protocol ports that adapters implement."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, runtime_checkable

from core.bulk.ports import BatchRepository, UploadCounts
from core.commands import Actor
from core.escrow.repository import CursorRepository, EscrowRepository
from core.errors import ChainRejected
from core.guard import Removal
from core.jobs import Job
from core.dashboard import WebRepository
from core.ledger import LedgerRepository
from core.model import (
    ApprovalRequest,
    ApprovalStatus,
    Attempt,
    AuditEntry,
    Intent,
    IntentStatus,
    LinkChallenge,
    Notification,
    ProcessedKey,
    Receipt,
    Spend,
    User,
    Vote,
)
from core.money import Amount, Token, TokenRegistry
from core.payees import PayeeRepository, TemplateRepository
from core.pricealerts import PriceAlertRepository
from core.replies import Press, Reply
from core.roles import RoleGrant
from core.schedules.repository import ScheduleRepository


# ---------------------------------------------------------------- chain
@dataclass(frozen=True)
class PaymentOrder:
    """What the executor authorises: pay `amount` of `token` to `recipient`, once, under `intent_hash`."""

    intent_hash: str  # 0x + 64 hex
    recipient: str
    token: Token
    amount: int
    mixer_commitment: str | None = None  # set: deposit this commitment into the pool `recipient` instead
    row_id: int | None = None  # a bulk row: sign_batch pays it under this id (at most once), not the intent hash


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    tx_hash: str
    nonce: int
    max_fee: int | None = None  # per gas, as signed (kept with each attempt for fee-bump bookkeeping)
    tip: int | None = None


@dataclass(frozen=True)
class ExecutorAllowance:
    """The Settlement's on-chain cap on what the executor key may pay out of one token: `amount` base units per
    `period` seconds (fixed windows), `spent` of it in the window that refills at `refills_at`."""

    amount: int
    period: int  # seconds
    spent: int
    refills_at: datetime

    @property
    def remaining(self) -> int:
        return max(self.amount - self.spent, 0)


class Chain(Protocol):
    """The Settlement contract and the node behind it. Raises ChainUnavailable when the node is down."""

    @property
    def chain_id(self) -> int: ...

    @property
    def tokens(self) -> TokenRegistry: ...

    @property
    def executor(self) -> str:
        """The address that signs authorisations and sends transactions."""

    @property
    def treasury(self) -> str:
        """The Settlement contract's address, which holds the funds."""

    async def balance(self, address: str, token: Token) -> int: ...

    async def pending_nonce(self) -> int:
        """The executor's next nonce according to the node, counting its pending transactions."""

    async def mined_nonce(self) -> int:
        """The executor's next nonce counting only mined transactions: a signed transaction with a lower
        nonce that is not mined by now never will be (another transaction used its nonce)."""

    async def sign_payment(self, order: PaymentOrder, nonce: int, *, bump: int = 0) -> SignedTx:
        """Sign the authorisation and the transaction that submits it. Simulates first and raises
        ChainRejected with a plain sentence if the contract would revert. `bump` raises the fee for
        replacing a stuck transaction (each step +12.5% or more). An order with a `mixer_commitment`
        deposits it into the pool `recipient` from the treasury (Settlement.executeMixerDeposit)."""

    async def broadcast(self, raw: bytes) -> str:
        """Send signed bytes; idempotent (an already-known transaction is not an error)."""

    async def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt if mined, else None."""

    async def wait_for_receipt(self, tx_hash: str, timeout: float) -> Receipt | None: ...

    async def is_paid(self, intent_hash: str) -> bool:
        """Whether the contract has already executed this intent (on any path)."""

    async def paid_by(self, intent_hash: str) -> str | None:
        """The hash of the transaction in which the contract paid this intent, or None if it has not."""

    async def is_row_paid(self, row_id: int) -> bool: ...  # the contract paid this bulk row id (sign_batch's key)
    async def used_row_words(self, first_word: int, last_word: int) -> list[int]:
        """Of the contract's paid-rows bitmap words first_word..last_word (word w holds row ids 256w..256w+255),
        those with any row paid, ascending; one round trip."""
    async def rows_paid_by(self, row_ids: Collection[int]) -> dict[int, str]:
        """Of these bulk row ids, those the contract paid, each with the hash of the transaction that paid it."""
    async def stuck(self, tx_hash: str) -> bool: ...  # held unmined, offering less than the next block's base fee

    def recover_signer(self, message: str, signature: str) -> str:
        """EIP-191 personal_sign: the checksummed address that signed `message`. Raises UserError if the
        signature is malformed."""

    def explorer_url(self, tx_hash: str) -> str | None: ...

    # Bulk payouts: many orders in one transaction (Settlement.executeBatch) under one executor signature.
    @property
    def batch_capacity(self) -> int:
        """The most orders one signed batch may hold (the transaction gas cap decides)."""

    async def sign_batch(self, orders: list[PaymentOrder], nonce: int, *, bump: int = 0) -> SignedTx:
        """Sign one transaction paying every order, each a bulk row whose `row_id` the contract pays at most once
        ever (receipts: `paid_rows`, `failed_rows`); simulates first and raises ChainRejected if it would revert."""

    async def prepare_batch(self, orders: list[PaymentOrder]) -> None: ...  # sign_batch's checks now, its signing cheap
    async def broadcast_many(self, raws: list[bytes]) -> list[str | ChainRejected]:
        """Send several signed transactions in one round trip: each one's hash, or why the node refused it."""

    async def fee_per_gas(self) -> int: ...  # what a transaction sent now pays per gas, at most (fee estimates)

    async def executor_allowance(self, token: Token) -> ExecutorAllowance | None:
        """The executor's allowance of `token` as the contract counts it now, or None when the owner set none:
        then there is NO on-chain cap on what the executor key may pay out of it."""


# ---------------------------------------------------------------- storage
class DuplicateKey(Exception):
    """Another request recorded this idempotency key first (a UNIQUE constraint fired)."""


class UserRepository(Protocol):
    async def get(self, ref: str) -> User | None: ...
    async def upsert(self, user: User) -> User:
        """Insert, or update display name, handle and handle_seen_at of, the user with this ref; returns the
        stored user. Any other account on the same platform that held this handle loses it."""
    async def by_handle(self, handle: str, platform: str | None = None) -> list[User]: ...
    async def by_wallet(self, address: str) -> list[User]: ...
    async def by_wallets(self, addresses: list[str]) -> list[User]: ...  # linked to any of them (any case)
    async def save(self, user: User) -> None: ...


class IntentRepository(Protocol):
    async def add(self, intent: Intent) -> None: ...
    async def get(self, intent_id: str, *, for_update: bool = False) -> Intent | None: ...
    async def save(self, intent: Intent) -> None: ...
    async def for_actor(self, actor_ref: str, limit: int) -> list[Intent]:
        """The actor's own intents and those paid to them, newest first."""
    async def with_status(self, status: IntentStatus, limit: int = 1000) -> list[Intent]: ...
    async def in_flight(self, token: str) -> int:
        """Sum of amounts of this token that are signed but not yet settled."""
    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        """Their payments and deposits since then, pending, sent or confirmed, oldest first (the daily limit)."""
    async def add_attempt(self, attempt: Attempt) -> None:
        """Keep one signed transaction of an intent (stored before it is broadcast, never overwritten)."""
    async def attempts(self, intent_id: str) -> list[Attempt]:
        """Every signed transaction of the intent, oldest first."""


class OutboxRepository(Protocol):
    async def add(self, notification: Notification) -> None:
        """Insert; a notification whose dedup_key exists already is ignored."""
    async def pending(self, limit: int = 100) -> list[Notification]:
        """A look at undelivered notifications (claimed or not); delivery uses claim()."""
    async def claim(self, limit: int, *, now: datetime, until: datetime, platform: str | None = None) -> list[Notification]:
        """Up to `limit` pending notifications that nobody holds (never claimed, or the claim ran out by `now`),
        oldest first, only for users of `platform` when given; each is marked claimed until `until`, in this
        transaction. Two claimers never get the same row (PostgreSQL: FOR UPDATE SKIP LOCKED); the rows of a
        claimer that died are claimed again once `until` has passed."""
    async def save(self, notification: Notification, *, retry_at: datetime | None = None) -> None:
        """Write status, attempts, last error and sent time. `retry_at`: keep it claimed until then, so no
        deliverer tries it again sooner (the platform asked us to wait)."""


class KeyRepository(Protocol):
    async def get(self, key: str) -> ProcessedKey | None: ...
    async def add(self, record: ProcessedKey) -> None:
        """Raises DuplicateKey (on flush or commit) if the key exists."""
    async def save(self, record: ProcessedKey) -> None: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...
    async def recent(self, limit: int = 50) -> list[AuditEntry]: ...
    async def since(self, start: datetime | None) -> list[AuditEntry]:
        """Every entry at or after `start` (all of them for None), oldest first: for the accountant's export."""


class RoleRepository(Protocol):
    """Roles given in chat, one per platform identity (the latest change wins; the audit log keeps the rest)."""

    async def get(self, user_ref: str) -> RoleGrant | None: ...
    async def put(self, grant: RoleGrant) -> None:
        """Insert or replace the grant of `grant.user_ref`."""
    async def all(self) -> list[RoleGrant]: ...


class ApprovalRepository(Protocol):
    """Payments waiting for approvers (core.payments.approvals), and each approver's decision."""

    async def add(self, request: ApprovalRequest) -> None: ...
    async def get(self, intent_id: str) -> ApprovalRequest | None:
        """Read it inside a unit of work that holds the intent's row lock (intents.get(for_update=True))."""
    async def save(self, request: ApprovalRequest) -> None: ...
    async def with_status(self, status: ApprovalStatus, limit: int = 1000) -> list[ApprovalRequest]:
        """Oldest first."""
    async def vote(self, vote: Vote) -> bool:
        """Store one approver's decision; False (and nothing stored) if this approver already decided on this
        request: a UNIQUE (intent, approver) makes that true across processes too."""
    async def votes(self, intent_id: str) -> list[Vote]:
        """Oldest first."""


class NonceRepository(Protocol):
    async def reserve(self, chain_id: int, address: str, floor: int) -> int:
        """Atomically take the next nonce for (chain, address): max(stored next, floor); store it + 1.
        Holds a row lock until the unit of work ends, so concurrent reservations serialise."""


class ChallengeRepository(Protocol):
    async def add(self, challenge: LinkChallenge) -> None: ...
    async def latest(self, actor_ref: str) -> LinkChallenge | None:
        """The newest unused challenge of this actor."""
    async def save(self, challenge: LinkChallenge) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction. Leaving the block without commit() rolls back."""

    users: UserRepository
    intents: IntentRepository
    outbox: OutboxRepository
    keys: KeyRepository
    audit: AuditRepository
    nonces: NonceRepository
    challenges: ChallengeRepository
    batches: BatchRepository  # bulk payouts: batches, their rows and chunks
    uploads: UploadCounts  # bulk payout files and rows each person uploaded, for the upload limits
    roles: RoleRepository  # roles given in chat (core.roles)
    approvals: ApprovalRepository  # payments waiting for approvers, and their decisions
    ledger: LedgerRepository  # what left the treasury: payments, bulk rows, mixer deposits (core.ledger)
    schedules: ScheduleRepository  # scheduled and recurring payments and their occurrences (core.schedules)
    escrows: EscrowRepository  # intents members fund themselves (core.escrow)
    cursors: CursorRepository  # chain watchers' progress
    payees: PayeeRepository  # the team's saved payees (core.payees)
    templates: TemplateRepository  # the team's payout templates (core.bulk.templates)
    price_alerts: PriceAlertRepository  # /alert: who to tell when a price crosses a level (core.pricealerts)
    web: WebRepository  # the web dashboard's sign-in links, ledger pages and read marks (core.dashboard)

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def try_lock(self, name: str) -> bool:
        """Take the lock `name` until this unit of work commits, rolls back or ends; shared by every
        process on the database. False at once (no waiting) if another unit of work holds it."""


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


# ---------------------------------------------------------------- delivery, jobs, time
@dataclass(frozen=True)
class Delivery:
    ok: bool
    undeliverable: bool = False  # the user blocked us or closed DMs: stop trying
    retry_after: float | None = None  # seconds the platform asked us to wait: not tried again sooner
    error: str | None = None


@runtime_checkable
class Notifier(Protocol):
    """Sends a reply privately to one user of one platform."""

    async def send(self, user_ref: str, reply: Reply) -> Delivery: ...

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        """Show `reply` in the message last sent for `slot` (bulk progress: one message per batch), editing it;
        the first time, or on a platform that cannot edit, send a new message."""


class JobQueue(Protocol):
    """Background work. `job_id` makes a duplicate enqueue a no-op."""

    def enqueue(self, job: Job, *args: object, job_id: str | None = None) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class RateLimiter(Protocol):
    """Sliding-window counters of incoming commands (in memory, or in Redis shared by every bot process)."""

    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        """Count one hit of `key` unless `limit` hits were counted in the last `window_s` seconds. None when
        counted (allowed); otherwise the seconds until the oldest counted hit leaves the window, and this hit
        is not counted (a refused command does not push its own retry further away)."""


# ---------------------------------------------------------------- chat front ends
class ChatEngine(Protocol):
    """What a chat front end (Telegram, Discord) asks of the core. The front end translates; every decision is
    made here. None of these raises for anything a user sends: each outcome is a Reply."""

    async def handle_text(self, text: str, *, actor: Actor, key: str) -> Reply:
        """Parse and run one chat message (or the text a slash command or button stands for)."""

    async def bulk_upload(self, actor: Actor, key: str, filename: str, data: bytes) -> Reply:
        """A payout file attached to a message, as downloaded."""

    def may_press(self, actor: Actor, press: Press) -> bool:
        """Whether `actor` may press a button shown to `press.owner_id`: its owner, or an operator."""

    async def own_payments(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        """The actor's latest payments as (id, label), newest first: for autocompleting an id."""

    async def own_batches(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        """The bulk batches the actor uploaded as (id, label), newest first (an operator too sees only theirs)."""

    async def secret_removed(self, actor: Actor, key: str, where: str, what: str, removal: Removal) -> None:
        """core.guard found a `what` ("private key", "mixer note") from `actor` in the public place `where` and
        dealt with it (`removal`): the admins get a security alert, once per `key` (the message). Never the secret."""

    async def foreign_guild(self, actor: Actor, guild_id: int, what: str) -> None:
        """An interaction (`what`: "/pay", "a /confirm button") from a Discord server outside DISCORD_GUILD_IDS was
        refused: the admins get a security alert (throttled per person and server)."""
