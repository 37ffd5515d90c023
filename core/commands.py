"""One frozen dataclass per chat command; each carries who asked and the platform's idempotency key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.money import Amount
from core.roles import Role


@dataclass(frozen=True)
class Actor:
    """A person on one platform. `ref` ("telegram:123") is how the rest of the system names them."""

    platform: str
    user_id: str
    display_name: str = ""
    handle: str | None = None
    operator: bool = False  # the platform vouches for operator rights (a Discord role), besides OPERATORS
    # Set by the engine (core.roles.role_of) for the command it runs; None: not looked up, settings decide.
    role: Role | None = None

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Recipient:
    """Exactly one of: a checksummed address, a @handle, a platform user ref from a mention, or a bare word naming
    a saved payee (core.payees; resolved, like the rest, by core.services.resolve_recipient)."""

    address: str | None = None
    handle: str | None = None
    user_ref: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return self.address or (f"@{self.handle}" if self.handle else self.user_ref or self.name or "?")


@dataclass(frozen=True)
class Command:
    actor: Actor
    key: str


@dataclass(frozen=True)
class Pay(Command):
    recipient: Recipient
    amount: Amount
    # What follows the amount and token, as typed: a time ("at 2026-12-01 09:00", "in 3 days"), a recurrence
    # ("every month on the 1st") or a price ("when CRO above 0.12 USD"). Read by core.payments.route, which
    # needs the payer's time zone and the clock to make sense of it.
    when: str | None = None


@dataclass(frozen=True)
class Deposit(Command):
    intent_id: str
    amount_text: str | None = None


@dataclass(frozen=True)
class Release(Command):
    """`/release <intent id>`: the creator of a funded intent pays it to its recipient now (core.escrow)."""

    intent_id: str


@dataclass(frozen=True)
class Withdraw(Command):
    note: str = field(repr=False)  # a bearer secret: never in a repr, log line or traceback
    address: str | None = None


@dataclass(frozen=True)
class Mix(Command):
    amount: Amount


BulkAction = Literal["upload", "preview", "execute", "status", "cancel", "retry"]


@dataclass(frozen=True)
class Bulk(Command):
    action: BulkAction
    batch_id: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class BulkUpload(Bulk):
    """A payout file: attachment bytes from a platform adapter, a file the console or `snowrail bulk run` read,
    or a list pasted after /bulk (as "pasted.txt"). `max_rows` is set only by the shell, which has no chat limit."""

    filename: str = "payouts.csv"
    data: bytes = b""
    max_rows: int | None = None


@dataclass(frozen=True)
class Status(Command):
    ref: str


@dataclass(frozen=True)
class Wallet(Command):
    pass


@dataclass(frozen=True)
class History(Command):
    limit: int = 10


@dataclass(frozen=True)
class Help(Command):
    topic: str | None = None


@dataclass(frozen=True)
class Cancel(Command):
    ref: str


@dataclass(frozen=True)
class Confirm(Command):
    ref: str


@dataclass(frozen=True)
class Start(Command):
    payload: str | None = None


@dataclass(frozen=True)
class TimeZone(Command):
    zone: str | None = None  # None: show the zone in use


@dataclass(frozen=True)
class Link(Command):
    """`/link 0xADDRESS` asks for a challenge; `/link 0xSIGNATURE` answers it."""

    address: str | None = None
    signature: str | None = None


@dataclass(frozen=True)
class SetRole(Command):
    """`/role <person> <role>`: an admin gives someone a role (member takes every role away)."""

    target: Recipient  # a @handle or a platform user ref ("telegram:123", or a Discord mention)
    role: Role


@dataclass(frozen=True)
class Roles(Command):
    """`/roles`: who holds which role."""


@dataclass(frozen=True)
class Audit(Command):
    """`/audit [n]`: the last n decisions, for admins."""

    limit: int = 20


@dataclass(frozen=True)
class Approve(Command):
    """`/approve <payment id>`: an approver's yes to a payment above the approval threshold."""

    ref: str


@dataclass(frozen=True)
class Reject(Command):
    """`/reject <payment id> [reason]`: an approver's no; it cancels the request and the requester is told why."""

    ref: str
    reason: str | None = None


@dataclass(frozen=True)
class Pending(Command):
    """`/pending`: the payments waiting for approval (an approver's to decide, an operator's own)."""


@dataclass(frozen=True)
class Dashboard(Command):
    """`/dashboard`: a one-time sign-in link to the web dashboard, sent by DM (core.signin)."""


@dataclass(frozen=True)
class Ledger(Command):
    """`/ledger [n] [token]`: the treasury's last n outflows; `/ledger export [token]`: all of them as a CSV file."""

    limit: int = 20
    token: str | None = None  # a symbol of this chain's registry
    export: bool = False


@dataclass(frozen=True)
class Understand(Command):
    """A chat message that is not a slash command: previewed as the command it maps to, never run by itself."""

    text: str


@dataclass(frozen=True)
class Alert(Command):
    """`/alert CRO above 0.12`: a price_alert DM each time the pair crosses onto that side (core.pricealerts);
    `/alert cancel <id>` stops one."""

    pair: str = ""  # "BASE/QUOTE" as typed (quote USD when left out); checked against the feeds by the handler
    above: bool = True
    price: str = ""  # as typed: the handler scales it to the feed's decimals and refuses more decimals
    cancel_id: str | None = None  # set: cancel this alert instead


@dataclass(frozen=True)
class Alerts(Command):
    """`/alerts`: your active price alerts."""


@dataclass(frozen=True)
class Price(Command):
    """`/price [PAIR]`: the latest reading of one feed (or of all), with its age."""

    pair: str | None = None


@dataclass(frozen=True)
class SetPrice(Command):
    """`/price PAIR <price>`: an admin moves the dev price feed of a dev chain (how the console shows price conditions)."""

    pair: str
    price: str


@dataclass(frozen=True)
class Schedules(Command):
    """`/schedules`: your scheduled payments (an admin sees everyone's), each with its next run."""


ScheduleAction = Literal["pause", "resume", "cancel", "skip"]


@dataclass(frozen=True)
class ChangeSchedule(Command):
    """`/schedule pause|resume|cancel|skip <id|name>`: skip passes over the next occurrence only; a name is a
    template's or a payee's (@handle's) that identifies one of the caller's schedules."""

    action: ScheduleAction
    ref: str


@dataclass(frozen=True)
class PayeeAdd(Command):
    """`/payee add <name> <0x… | @handle> [memo]`: save a team payee (admins, or operators where no admins exist)."""

    name: str
    target: Recipient  # an address or a @handle
    memo: str | None = None


@dataclass(frozen=True)
class PayeeRemove(Command):
    """`/payee remove <name>`."""

    name: str


@dataclass(frozen=True)
class Payees(Command):
    """`/payees`: the team's saved payees (operators, approvers, admins)."""


@dataclass(frozen=True)
class BulkSave(Command):
    """`/bulk save <batch id> as <name>`: keep a batch's rows as a team payout template (core.bulk.templates)."""

    batch_id: str
    name: str


@dataclass(frozen=True)
class BulkRun(Command):
    """`/bulk run <name> [every …]`: a new batch from a template, previewed like an upload (or scheduled)."""

    name: str
    when: str | None = None  # a time or recurrence, as typed: the run is scheduled (core.schedules)


@dataclass(frozen=True)
class Templates(Command):
    """`/bulk templates`: the team's payout templates."""


# Commands that change state: they are recorded under their idempotency key and never act twice.
MUTATING: tuple[type[Command], ...] = (Pay, Deposit, Release, Withdraw, Mix, Bulk, Cancel, Confirm, Link, SetRole,
                                      Approve, Reject, Alert, SetPrice, ChangeSchedule,
                                      PayeeAdd, PayeeRemove, BulkSave, BulkRun)
