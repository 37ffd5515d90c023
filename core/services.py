"""What every handler may use: the ports, the policy, and small helpers shared between handlers."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.bulk.policy import BulkPolicy
from core.commands import Actor, Recipient
from core.dashboard import WebAccess
from core.errors import UserError
from core.jobs import Job
from core.escrow.ports import EscrowChain
from core.model import User
from core.money import Token
from core.metrics import Metrics, NoMetrics
from core.mixing import Mixer
from core.payees import recipient_named
from core.prices import PriceFeed
from core.ports import Chain, Clock, JobQueue, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("snowrail.engine")

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: ids get read aloud and retyped


def new_id(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def new_intent_hash() -> str:
    return "0x" + secrets.token_hex(32)


@dataclass(frozen=True)
class Policy:
    """Operator-set rules: who may spend, when a payment needs a second look, how long to wait."""

    operators: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()  # ADMINS: always admins (chat cannot demote them)
    approvers: frozenset[str] = frozenset()  # APPROVERS (a role given in chat overrides this and OPERATORS)
    confirm_above: dict[str, int] = field(default_factory=dict)  # token symbol -> base units
    # LOW_BALANCE_ALERT: the treasury below this (token symbol -> base units) alerts the admins (core.alerts);
    # low_gas: the executor's native balance below this (its GAS= entry, else the native token's entry).
    low_balance: dict[str, int] = field(default_factory=dict)
    low_gas: int | None = None
    receipt_timeout: float = 30.0
    stuck_after: timedelta = timedelta(minutes=3)
    challenge_ttl: timedelta = timedelta(minutes=15)
    # A @handle whose owner has not sent us a message while holding it for this long is "stale": Telegram
    # usernames are released and re-registered, so the payer is warned to check the address before paying.
    handle_fresh_for: timedelta = timedelta(days=30)
    bot_name: str = "SnowRail"
    mixer_off: str = ""  # why this bot serves no privacy pool (what to add, and how): /mix and /withdraw say it
    # APPROVAL_THRESHOLD (token symbol -> base units): a payment strictly above it waits for APPROVALS_REQUIRED
    # distinct approvers (never the requester), for at most APPROVAL_TTL. A token not listed never needs them.
    approval_threshold: dict[str, int] = field(default_factory=dict)
    approvals_required: int = 2
    approval_ttl: timedelta = timedelta(hours=24)
    # OPERATOR_DAILY_LIMIT (token symbol -> base units): what one person may request from the treasury over a
    # rolling 24 h before further requests wait for approvals (core.payments.limits). A token not listed: no limit.
    daily_limit: dict[str, int] = field(default_factory=dict)
    # Schedules (core.schedules): a due time missed while the bot was down is paid on return only within
    # SCHEDULE_GRACE_HOURS, older ones are reported missed; the owner is reminded SCHEDULE_REMIND_BEFORE ahead.
    schedule_grace: timedelta = timedelta(hours=24)
    schedule_remind_before: timedelta = timedelta(hours=1)
    schedule_max_per_user: int = 50  # SCHEDULE_MAX_PER_USER: active and paused schedules per person
    # PRICE_MAX_AGE_SECONDS: a feed answer older than this is stale, and nothing acts on it (price conditions, alerts).
    price_max_age: timedelta = timedelta(hours=1)
    # ESCROW_EXPIRY_DAYS: an intent with no "until <date>" expires this long after it is made; its funder may then
    # take the funds back on chain, with or without the bot.
    escrow_expiry: timedelta = timedelta(days=30)
    # TX_PENDING_NOTICE_SECONDS: a release, refund or payment unmined for longer gets one transaction_pending DM.
    tx_pending_notice: timedelta = timedelta(seconds=120)
    price_alerts_max: int = 20  # PRICE_ALERTS_MAX_PER_USER: active /alert price alerts one person may have

    def is_operator(self, actor: Actor) -> bool:
        """May spend: an operator or an admin (approvers alone may not). The role the engine looked up for
        this command, else the settings: ADMINS, OPERATORS, or vouched for by the platform (a Discord role).
        Only an Actor carries the rest, so a bare ref is refused rather than answered with half the facts."""
        if not isinstance(actor, Actor):
            raise TypeError(f"is_operator takes an Actor, not {type(actor).__name__}")
        if actor.role is not None:  # looked up by the engine (core.roles.role_of): roles given in chat count
            return actor.role.may_spend
        return actor.operator or actor.ref in self.operators or actor.ref in self.admins


@dataclass
class Services:
    """Everything a handler may reach, one typed field per port and per feature's settings."""

    chain: Chain
    uow: UnitOfWorkFactory
    clock: Clock
    policy: Policy
    queue: JobQueue | None = None
    mixer: Mixer | None = None  # None: this bot serves no privacy pool
    bulk: BulkPolicy = field(default_factory=BulkPolicy)  # chunk sizes, leases and upload limits of /bulk
    escrow: EscrowChain | None = None  # None: this chain's Settlement holds no escrowed intents (core.escrow)
    prices: PriceFeed | None = None  # None: no price feeds (price conditions and /alert are refused)
    metrics: Metrics = field(default_factory=NoMetrics)  # what the bot exports on HEALTH_PORT (core.metrics)
    web: WebAccess | None = None  # None: no web dashboard (/dashboard says so); see core.signin
    _known: dict[str, tuple[str, str | None, datetime]] = field(default_factory=dict)

    async def remember(self, actor: Actor) -> None:
        """Keep the user's identity current, including when they were last seen holding their handle.
        Skips the write when nothing changed and the handle was confirmed less than an hour ago."""
        name, handle, now = actor.display_name, (actor.handle or "").lower() or None, self.clock.now()
        known = self._known.get(actor.ref)
        if known is not None and known[:2] == (name, handle) and now - known[2] < _SEEN_REFRESH:
            return
        async with self.uow() as uow:
            await uow.users.upsert(
                User(
                    ref=actor.ref,
                    platform=actor.platform,
                    platform_user_id=actor.user_id,
                    display_name=name,
                    handle=handle,
                    handle_seen_at=now if handle else None,
                    created_at=now,
                )
            )
            await uow.commit()
        self._known[actor.ref] = (name, handle, now)

    def token(self, symbol: str) -> Token:
        return self.chain.tokens.get(symbol)

    def notify_soon(self) -> None:
        if self.queue is not None:
            self.queue.enqueue(Job.DELIVER_NOTIFICATIONS, job_id=None)


# How often a user who keeps writing has their handle_seen_at rewritten: far finer than handle_fresh_for.
_SEEN_REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Payee:
    """Where a payment goes, and who that is when the payer named a person rather than an address."""

    address: str
    ref: str | None = None  # the user behind the address, if we know one
    named: User | None = None  # set when the payer typed a @handle or a mention: show them who it resolved to
    by_handle: bool = False  # named by @handle (which can change hands), not by a mention's permanent id

    @property
    def who(self) -> str:
        """The platform identity the payer named, e.g. "@alice (telegram:123)"."""
        if self.named is None:
            return self.address
        label = f"@{self.named.handle}" if self.named.handle else self.named.display_name or "user"
        return f"{label} ({self.named.ref})"


async def resolve_recipient(uow: UnitOfWork, recipient: Recipient, *, platform: str) -> Payee:
    """The payee of a /pay typed on `platform`. Handles and mentions resolve only among that platform's
    accounts (an @alice on Telegram is not the @alice on Discord). UserError when nobody there can be paid."""
    if recipient.name:  # a saved payee's name (or, failing that, a @handle typed without its @)
        recipient = await recipient_named(uow, recipient.name, platform=platform)
    if recipient.address:
        owners = await uow.users.by_wallet(recipient.address)
        return Payee(recipient.address, owners[0].ref if owners else None)
    if recipient.user_ref:
        if not recipient.user_ref.startswith(f"{platform}:"):
            raise UserError(
                f"address: a {recipient.user_ref.split(':', 1)[0].title()} mention names nobody on {platform.title()}; "
                "pay a @handle from here or an address",
                field="address",
            )
        user = await uow.users.get(recipient.user_ref)
        if user is None or not user.wallet:
            raise UserError(
                "address: that person has not linked a wallet yet; ask them to send /link <their address>",
                field="address",
            )
        return Payee(user.wallet, user.ref, named=user)
    holders = await uow.users.by_handle(recipient.handle or "", platform=platform)
    if len(holders) > 1:
        raise UserError(
            f"address: @{recipient.handle} is claimed by {len(holders)} accounts on {platform.title()}; "
            "pay their address instead",
            field="address",
        )
    if not holders or not holders[0].wallet:
        raise UserError(
            f"address: @{recipient.handle} has no linked wallet on {platform.title()}; ask them to send "
            "/link <their address>, or pay an address",
            field="address",
        )
    return Payee(holders[0].wallet, holders[0].ref, named=holders[0], by_handle=True)


def handle_is_stale(policy: Policy, payee: Payee, now: datetime) -> bool:
    """True when the payer named a @handle whose owner we have not seen holding it within the window."""
    user = payee.named
    if user is None or not payee.by_handle:
        return False
    return user.handle_seen_at is None or now - user.handle_seen_at > policy.handle_fresh_for
