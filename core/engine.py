"""The engine: one entry point for every platform, a table from command type to handler."""

from __future__ import annotations

import secrets
from dataclasses import replace
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from core import alerts, payments, pricealerts, timezones
from core.bulk.policy import BulkPolicy
from core.bulk.views import batch_choice
from core.commands import (
    MUTATING,
    Actor,
    Alert,
    Alerts,
    Approve,
    Audit,
    Bulk,
    Cancel,
    ChangeSchedule,
    Command,
    Confirm,
    Deposit,
    Help,
    History,
    Ledger,
    Link,
    Mix,
    Pay,
    Pending,
    Price,
    Reject,
    Release,
    Roles,
    Schedules,
    SetPrice,
    SetRole,
    Start,
    Status,
    TimeZone,
    Understand,
    Wallet,
    Withdraw,
)
from core.errors import NotAllowed, TransientError, UsageError, UserError
from core.escrow import handlers as escrow_handlers
from core.escrow import reconcile as escrow_reconcile
from core.escrow import watch as escrow_watch
from core.escrow.views import choice as escrow_choice
from core.escrow.ports import EscrowChain
from core.handlers import account, bulk, ledger, mixer, roles
from core import signin
from core.commands import Dashboard
from core.dashboard import WebAccess
from core.handlers import prices as price_commands
from core.handlers import payees as payee_commands
from core.bulk import templates
from core.commands import BulkRun, BulkSave, PayeeAdd, PayeeRemove, Payees, Templates
from core.metrics import Metrics, NoMetrics
from core.prices import PriceFeed
from core.schedules import due as schedules_due
from core.schedules import handlers as schedule_handlers
from core.guard import Removal
from core.handlers.bulk import BulkUpload
from core.payments import approvals, route, waiting
from core.model import AuditEntry, IntentStatus, ProcessedKey
from core.notifications import DELIVERY_LEASE, deliver
from core.parsing import parse
from core.mixing import Mixer
from core.ports import Chain, Clock, DuplicateKey, JobQueue, Notifier, RateLimiter, UnitOfWorkFactory
from core.ratelimit import CommandLimits, RateLimits
from core.replies import Press, Reply, dumps, loads
from core.roles import role_of
from core.services import Policy, Services, log
from core.understand.chat import preview as understand_preview
from core.views import intent_detail, payment_choice

Handler = Callable[[Services, Any], Awaitable[Reply]]

HANDLERS: dict[type[Command], Handler] = {
    Pay: route.pay,
    Confirm: payments.confirm,
    Cancel: route.cancel,
    Status: route.status,
    History: payments.history,
    Start: account.start,
    Help: account.help_,
    Link: account.link,
    Wallet: account.wallet,
    Deposit: escrow_handlers.deposit,
    Release: escrow_handlers.release,
    Mix: mixer.mix,
    Withdraw: mixer.withdraw,
    Bulk: bulk.handle,
    BulkUpload: bulk.handle,
    SetRole: roles.set_role,
    Roles: roles.list_roles,
    Audit: roles.audit,
    Ledger: ledger.ledger,
    Dashboard: signin.dashboard,
    Approve: approvals.approve,
    Reject: approvals.reject,
    Pending: waiting.pending,
    Understand: understand_preview,
    TimeZone: timezones.tz,
    PayeeAdd: payee_commands.add,
    PayeeRemove: payee_commands.remove,
    Payees: payee_commands.list_payees,
    BulkSave: templates.save,
    BulkRun: templates.run,
    Templates: templates.list_templates,
    Schedules: schedule_handlers.list_schedules,
    ChangeSchedule: schedule_handlers.change,
    Alert: price_commands.alert,
    Alerts: price_commands.alerts,
    Price: price_commands.price,
    SetPrice: price_commands.set_price,
}

# The due-time loop: every bot process runs Engine.tick every TICK_SECONDS (bot.background); each part takes its
# own database lock (UnitOfWork.try_lock), so two processes never act on the same thing, and a stored due time,
# not a sleep, decides what runs.
TICKS: tuple[Callable[[Services], Awaitable[int]], ...] = (escrow_watch.tick, schedules_due.tick, pricealerts.tick)

# Commands whose effect is recorded under the key inside their own transaction (see payments.pay).
_SELF_RECORDING = (Pay, Mix)


class Engine:
    def __init__(
        self,
        *,
        chain: Chain,
        uow: UnitOfWorkFactory,
        clock: Clock,
        policy: Policy,
        queue: JobQueue | None = None,
        handlers: dict[type[Command], Handler] | None = None,
        mixer: Mixer | None = None,
        bulk: BulkPolicy | None = None,
        limiter: RateLimiter | None = None,
        rates: RateLimits | None = None,
        escrow: EscrowChain | None = None,
        prices: PriceFeed | None = None,
        metrics: Metrics | None = None,
        web: WebAccess | None = None,
    ) -> None:
        self.services = Services(chain=chain, uow=uow, clock=clock, policy=policy, queue=queue, mixer=mixer,
                                 bulk=bulk or BulkPolicy(), escrow=escrow, prices=prices,
                                 metrics=metrics or NoMetrics(), web=web)
        self.handlers = {**HANDLERS, **(handlers or {})}
        self.limits = CommandLimits(limiter, rates or RateLimits())  # no limiter: nothing is limited

    @property
    def chain(self) -> Chain:
        return self.services.chain

    async def handle_text(self, text: str, *, actor: Actor, key: str) -> Reply:
        """Parse and run one chat message. Never raises: every outcome is a Reply."""
        if text.strip() and not text.strip().startswith("/"):  # plain language: a preview, never an action
            return await self.handle(Understand(actor, key, text.strip()))
        try:
            command = parse(text, actor=actor, key=key, tokens=self.chain.tokens)
        except UsageError as e:
            await self._audit(actor.ref, _name_of(text), key, "invalid", e.message)
            return Reply.error(e.message)
        return await self.handle(command)

    async def handle(self, cmd: Command) -> Reply:
        name = _NAMES.get(type(cmd), type(cmd).__name__.lower())
        try:
            # Every decision below (and its audit entry) sees the role the actor holds now.
            cmd = replace(cmd, actor=replace(cmd.actor, role=await role_of(self.services, cmd.actor)))
            if isinstance(cmd, MUTATING):
                replay = await self._replay(cmd.key)
                if replay is not None:
                    await self._audit(cmd.actor.ref, name, cmd.key, "repeat", "answered from the first delivery", cmd)
                    return replay
            # After the replay (a redelivered message gets its first answer) and before anything is stored: a
            # limited command leaves no key behind, so the same message retried after the wait runs normally.
            refusal = await self.limits.refusal(cmd)
            if refusal is not None:
                await self._audit(cmd.actor.ref, name, cmd.key, "limited", refusal, cmd)
                bucket, rate = self.limits.rate_of(cmd)
                await alerts.limit_hit(self.services, cmd.actor, name, refusal, bucket, rate.window_s if rate else 60)
                return Reply.error(refusal)
            await self.services.remember(cmd.actor)
            reply = await self.handlers[type(cmd)](self.services, cmd)
            if isinstance(cmd, MUTATING) and not isinstance(cmd, _SELF_RECORDING):
                await self._record(cmd, reply)
            await self._audit(cmd.actor.ref, name, cmd.key, "ok", _describe(cmd, reply), cmd)
            return reply
        except DuplicateKey:
            replay = await self._replay(cmd.key)
            return replay or Reply.error("That message is already being handled.")
        except NotAllowed as e:
            await self._audit(cmd.actor.ref, name, cmd.key, "refused", e.message, cmd)
            return Reply.error(e.message)
        except UserError as e:
            await self._audit(cmd.actor.ref, name, cmd.key, "invalid", e.message, cmd)
            if e.field == "allowance":  # every pre-sign refusal by the executor's allowance (core.payments.allowance)
                await alerts.allowance_hit(self.services, cmd.actor, name, cmd.key, e.message)
            return Reply.error(e.message)
        except TransientError as e:
            log.warning("%s unavailable while handling %s (%s)", e.service, name, cmd.key)
            await self._audit(cmd.actor.ref, name, cmd.key, "transient", e.message, cmd)
            return Reply.error(f"The {e.service} is not answering right now ({e.message}). Nothing was paid; try again in a moment.")
        except Exception:
            ref = "E-" + secrets.token_hex(3)
            log.exception("unexpected failure %s handling %s for %s (key %s)", ref, name, cmd.actor.ref, cmd.key)
            await self._audit(cmd.actor.ref, name, cmd.key, "error", ref, cmd)
            return Reply.error(f"Sorry, something went wrong on our side (reference {ref}). Nothing was paid twice; try /status or /history.")

    async def _replay(self, key: str) -> Reply | None:
        async with self.services.uow() as uow:
            record = await uow.keys.get(key)
            if record is None:
                return None
            if record.intent_id:
                intent = await uow.intents.get(record.intent_id)
                if intent is not None:
                    head = "Already handled this message; nothing was paid twice."
                    if intent.status is IntentStatus.PENDING and not intent.needs_confirmation:
                        head += f" It is still pending: /confirm {intent.id} to retry."
                    return intent_detail(self.chain, intent, headline=head)
        return loads(record.reply) if record.reply else Reply.of("Already handled this message.")

    async def _record(self, cmd: Command, reply: Reply) -> None:
        async with self.services.uow() as uow:
            await uow.keys.add(
                ProcessedKey(cmd.key, type(cmd).__name__.lower(), cmd.actor.ref, self.services.clock.now(), reply=dumps(reply))
            )
            await uow.commit()

    async def _audit(
        self, actor_ref: str, command: str, key: str, outcome: str, detail: str, cmd: Command | None = None
    ) -> None:
        # Every outcome passes here. A name is the user's text when parsing failed: unknown ones count as "other".
        self.services.metrics.command(command if command in _COUNTED else "other", outcome)
        entry = AuditEntry(actor_ref, command, key, outcome, detail[:500], self.services.clock.now())
        if cmd is not None:
            entry = _with_command(entry, cmd)
        try:
            async with self.services.uow() as uow:
                await uow.audit.add(entry)
                await uow.commit()
        except TransientError:
            log.warning("audit entry for %s (%s) not written: database unavailable", key, outcome)

    async def bulk_upload(self, actor: Actor, key: str, filename: str, data: bytes) -> Reply:
        """For platform adapters: a payout file attached to a message (bytes as downloaded). Never raises."""
        return await self.handle(BulkUpload(actor, key, "upload", filename=filename, data=data))

    # ------------------------------------------------------------ for chat front ends (core.ports.ChatEngine)
    def may_press(self, actor: Actor, press: Press) -> bool:
        """A command button works for the person it was shown to, and for an operator."""
        return press.owner_id == actor.user_id or self.services.policy.is_operator(actor)

    async def own_payments(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        async with self.services.uow() as uow:
            found = await uow.intents.for_actor(actor.ref, limit)
            escrows = await uow.escrows.for_actor(actor.ref, limit)  # intents count as payments here (/cancel, /status)
        mine = [(i.created_at, i.id, payment_choice(self.chain, i)) for i in found]
        mine += [(e.created_at, e.id, escrow_choice(self.services, e)) for e in escrows]
        return [(ref, label) for _, ref, label in sorted(mine, reverse=True)[:limit]]

    async def own_batches(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        async with self.services.uow() as uow:
            found = await uow.batches.for_actor(actor.ref, limit)
        return [(b.id, batch_choice(b, self.chain.tokens)) for b in found]

    async def secret_removed(self, actor: Actor, key: str, where: str, what: str, removal: Removal) -> None:
        await _never_raises(alerts.secret_removed(self.services, actor, key, where, what, removal), "pasted secret")

    async def foreign_guild(self, actor: Actor, guild_id: int, what: str) -> None:
        await _never_raises(alerts.foreign_guild(self.services, actor, guild_id, what), "foreign guild")

    # ------------------------------------------------------------ background work
    async def reconcile(self) -> int:
        """Settle open payments, then look at the balances (LOW_BALANCE_ALERT): this runs periodically."""
        settled = await payments.reconcile(self.services)
        settled += await waiting.sweep(self.services)  # expire approval requests; sign orphaned approved ones
        settled += await escrow_reconcile.reconcile(self.services)  # signed escrow releases and refunds
        await alerts.check_balances(self.services)
        return settled

    async def tick(self) -> int:
        """One pass of the due-time loop (escrowed intents, schedules, price alerts). Returns how many things it moved."""
        moved = 0
        for part in TICKS:
            try:
                moved += await part(self.services)
            except TransientError as e:  # the node or database is away: the next pass tries again
                log.warning("due-time pass %s skipped: %s unavailable", part.__module__, e.service)
        return moved

    async def watch_mixer(self) -> int:
        """Announce wallet deposits into the privacy pool that have reached the chain. Returns how many."""
        return await mixer.announce_deposits(self.services)

    async def deliver_notifications(
        self, notifier: Notifier, *, platform: str | None = None, limit: int = 100, lease: timedelta = DELIVERY_LEASE
    ) -> int:
        """Deliver pending outbox rows through `notifier` (see core.notifications.deliver). Returns sent count."""
        return await deliver(self.services, notifier, platform=platform, limit=limit, lease=lease)


async def _never_raises(alert: Awaitable[bool], what: str) -> None:
    """A chat front end's report must not fail its own work (the refusal or deletion already happened)."""
    try:
        await alert
    except Exception:
        log.exception("security alert (%s) not queued", what)


def _name_of(text: str) -> str:
    head = text.strip().split(maxsplit=1)[0] if text.strip() else ""
    return head.lstrip("/").split("@")[0].lower()[:20] or "text"


_NAMES: dict[type[Command], str] = {SetRole: "role", PayeeAdd: "payee", PayeeRemove: "payee", Payees: "payees",
                                   BulkSave: "bulk", BulkRun: "bulk", Templates: "bulk"}
_COUNTED = frozenset(_NAMES.get(t, t.__name__.lower()) for t in HANDLERS)


def _with_command(entry: AuditEntry, cmd: Command) -> AuditEntry:
    """The entry with the actor's role and the amount the command names (exact, in base units)."""
    role = cmd.actor.role.value if cmd.actor.role is not None else None
    amount = cmd.amount if isinstance(cmd, (Pay, Mix)) else None
    if amount is None:
        return replace(entry, role=role)
    return replace(entry, role=role, amount=amount.units, token=amount.token.symbol, decimals=amount.token.decimals)


def _describe(cmd: Command, reply: Reply) -> str:
    """What the audit log keeps: the command's shape, never a mixer note or other secret."""
    if isinstance(cmd, Withdraw):
        return "withdraw (note withheld)"
    if isinstance(cmd, Pay):
        return f"pay {cmd.amount} to {cmd.recipient}: {reply.kind}"
    if isinstance(cmd, (PayeeAdd, PayeeRemove, BulkSave)):  # what the team's payees and templates became, and who did it
        return f"{type(cmd).__name__.lower()}: {reply.plain()[:300]}"
    if isinstance(cmd, SetRole):
        return f"role {cmd.target} -> {cmd.role.value}: {reply.plain()}"
    return f"{type(cmd).__name__.lower()}: {reply.kind}"


__all__ = ["Engine", "Policy", "HANDLERS"]
