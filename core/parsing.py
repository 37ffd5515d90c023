"""Chat text -> Command, or a UsageError that names the problem and shows the usage line."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import get_args

from core.addresses import parse_address
from core.commands import (
    Actor,
    Approve,
    Audit,
    Bulk,
    BulkAction,
    BulkUpload,
    Cancel,
    Command,
    Confirm,
    Deposit,
    Release,
    Help,
    History,
    Dashboard,
    Ledger,
    Link,
    Mix,
    Pay,
    Pending,
    Recipient,
    Reject,
    Roles,
    SetRole,
    Start,
    Status,
    TimeZone,
    Wallet,
    Withdraw,
)
from core.errors import UsageError
from core.money import TokenRegistry, parse_amount
from core.payee_parsing import TEMPLATE_ACTIONS, parse_payee, parse_payees, parse_template_action
from core.payees import looks_like_name
from core.pricewords import parse_alert, parse_alerts, parse_price
from core.roles import ROLE_NAMES, Role
from core.schedules.parsing import parse_schedule, parse_schedules
from core.usage import USAGE

_HEAD = re.compile(r"^/([A-Za-z_]+)(?:@[A-Za-z0-9_]{1,64})?$")
_HANDLE = re.compile(r"^@([A-Za-z0-9_]{1,32})$")
# A person by platform user id ("discord:123"): what a chat adapter turns its own mention syntax into, so the
# core reads no platform's markup. It resolves only on that platform (core.services.resolve_recipient).
_USER_REF = re.compile(r"^[a-z]{2,16}:[0-9]{1,25}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_BULK_ACTIONS: dict[str, BulkAction] = {action: action for action in get_args(BulkAction)}
PASTED_NAME = "pasted.txt"  # a list pasted after /bulk is checked and stored as a file of this name


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _usage(name: str, problem: str, field: str | None = None) -> UsageError:
    return UsageError(f"{problem}\nUsage: {USAGE[name]}", field=field)


def parse(text: str, *, actor: Actor, key: str, tokens: TokenRegistry | None = None) -> Command:
    """Parse one chat message. Raises only UsageError, whatever the text."""
    registry = tokens or _STANDARD
    stripped = text.strip() if isinstance(text, str) else ""
    if not stripped:
        raise UsageError("That message is empty. Send /help to see what I can do.")
    words = stripped.split()
    m = _HEAD.match(words[0])
    if not m:
        if stripped.startswith("/"):
            raise UsageError(f"unknown command {_shown(words[0], 24)}; send /help to see the commands.")
        raise UsageError("Commands start with / (for example /pay or /help). Send /help to see them all.")
    name = m.group(1).lower()
    if name == "bulk" and (pasted := _pasted_list(stripped[len(words[0]):])) is not None:
        return BulkUpload(actor, key, "upload", filename=PASTED_NAME, data=pasted.encode("utf-8"))
    parser = _PARSERS.get(name)
    if parser is None:
        raise UsageError(f"unknown command /{_shown(name, 24)}; send /help to see the commands.")
    return parser(words[1:], actor, key, registry)


def _recipient(word: str) -> Recipient:
    if word.lower().startswith("0x"):
        return Recipient(address=parse_address(word, field="address"))
    if h := _HANDLE.match(word):
        return Recipient(handle=h.group(1).lower())
    if _USER_REF.match(word):
        return Recipient(user_ref=word)
    if looks_like_name(word):  # a saved payee (core.payees), resolved with the rest in core.services
        return Recipient(name=word.lower())
    raise UsageError(
        f"address: {_shown(word)} is neither an address (0x followed by 40 hex digits), a @handle nor a payee name",
        field="address",
    )


# Words that start the condition of a /pay ("/pay @bob 10 at 09:00"), so they are never read as a token.
PAY_WHEN_WORDS = frozenset({"at", "in", "on", "every", "when", "tomorrow", "today", "tonight", "from", "until",
                            "next", "each", "daily", "weekly", "monthly", "yearly"})


def _pay(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Pay:
    if len(args) < 2:
        missing = "recipient and amount are missing" if not args else "amount is missing"
        raise _usage("pay", f"{missing}.", "amount" if args else "address")
    has_token = len(args) >= 3 and args[2].lower() not in PAY_WHEN_WORDS
    tail = args[3:] if has_token else args[2:]
    if tail and tail[0].lower() not in PAY_WHEN_WORDS:
        raise _usage("pay", f"too many words after /pay: “{_shown(' '.join(tail))}”; a condition starts with "
                     "at, in, every or when.")
    try:
        recipient = _recipient(args[0])
        token = tokens.get(args[2]) if has_token else tokens.native
        amount = parse_amount(args[1], token)
    except UsageError as e:
        raise _usage("pay", e.message, e.field) from None
    return Pay(actor, key, recipient, amount, when=" ".join(tail) or None)


def _ref_arg(name: str, what: str) -> Callable[[list[str]], str]:
    def get(args: list[str]) -> str:
        if not args:
            raise _usage(name, f"{what} is missing.", "id")
        if len(args) > 1:
            raise _usage(name, f"expected one {what}, got {len(args)} words.", "id")
        if not _REF.match(args[0]):
            raise _usage(name, f"id: {_shown(args[0])} is not a valid {what}.", "id")
        return args[0].lower()

    return get


def _status(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Status:
    return Status(actor, key, _ref_arg("status", "payment id")(args))


def _cancel(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Cancel:
    return Cancel(actor, key, _ref_arg("cancel", "payment id")(args))


def _confirm(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Confirm:
    return Confirm(actor, key, _ref_arg("confirm", "payment id")(args))


def _history(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> History:
    if not args:
        return History(actor, key)
    if len(args) > 1 or not args[0].isascii() or not args[0].isdigit() or not 1 <= int(args[0]) <= 50:
        raise _usage("history", f"n: {_shown(' '.join(args))} is not a whole number from 1 to 50.", "n")
    return History(actor, key, int(args[0]))


def _wallet(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Wallet:
    if args:
        raise _usage("wallet", "/wallet takes no arguments.")
    return Wallet(actor, key)


def _help(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Help:
    if len(args) > 1:
        raise _usage("help", "ask about one command at a time.")
    topic = args[0].lstrip("/").lower() if args else None
    if topic is not None and topic not in USAGE:
        raise _usage("help", f"there is no command /{_shown(topic, 24)}.")
    return Help(actor, key, topic)


def _tz(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> TimeZone:
    if len(args) > 1:
        raise _usage("tz", f"expected one time zone name, got {len(args)} words.", "zone")
    return TimeZone(actor, key, args[0] if args else None)


def _start(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Start:
    payload = args[0] if args else None
    if payload is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload):
        payload = None  # deep-link payloads are advisory; a strange one is ignored, not an error
    return Start(actor, key, payload)


def _link(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Link:
    if len(args) != 1:
        raise _usage("link", "give one address (to get a challenge) or one signature (to answer it).", "address")
    word = args[0]
    if _SIGNATURE.match(word):
        return Link(actor, key, signature=word)
    if word.lower().startswith("0x") and len(word) > 42:
        raise _usage("link", f"signature: {_shown(word)} must be 0x followed by 130 hex digits.", "signature")
    try:
        return Link(actor, key, address=parse_address(word))
    except UsageError as e:
        raise _usage("link", e.message, e.field) from None


def _mix(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Mix:
    if len(args) != 1:
        raise _usage("mix", "give the amount to deposit.", "amount")
    try:
        return Mix(actor, key, parse_amount(args[0], tokens.native))
    except UsageError as e:
        raise _usage("mix", e.message, e.field) from None


def _withdraw(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Withdraw:
    # Every argument may be a note or part of one (a bearer secret): no message here quotes any of them,
    # since the reply and the audit log would keep it.
    if not args:
        raise _usage("withdraw", "the note is missing.", "note")
    if len(args) > 2:
        raise _usage("withdraw", "expected a note and an address.", "note")
    if len(args) == 1:
        if _is_address(args[0]):
            raise _usage("withdraw", "the note is missing: give the note first, then the address.", "note")
        return Withdraw(actor, key, args[0], None)
    try:
        address = parse_address(args[1])
    except UsageError as e:
        if _is_address(args[0]):
            raise _usage("withdraw", "the note and the address are swapped: give the note first, then the "
                                     "address.", "address") from None
        raise _usage("withdraw", _unquoted(e.message, args[1]), e.field) from None
    return Withdraw(actor, key, args[0], address)


def _is_address(text: str) -> bool:
    try:
        parse_address(text)
    except UsageError:
        return False
    return True


def _unquoted(message: str, text: str) -> str:
    """parse_address's message with the text it quotes replaced by a description of it."""
    raw = text.strip()
    shown = raw if len(raw) <= 50 else raw[:50] + "…"
    if not shown or shown not in message:
        return message
    out = re.sub(rf"(?<=[\s:]){re.escape(shown)}(?=[\s;,.]|$)", "the second argument", message, count=1)
    if out == message or (len(shown) > 3 and shown in out):
        return "address: the second argument is not an address (0x followed by 40 hex digits)."
    return out


def _deposit(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Deposit:
    if not args or len(args) > 3:
        raise _usage("deposit", "give the intent id and optionally the amount (and its token).", "id")
    return Deposit(actor, key, _ref_arg("deposit", "intent id")(args[:1]), " ".join(args[1:]) or None)


def _release(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Release:
    return Release(actor, key, _ref_arg("release", "intent id")(args))


def _bulk(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Command:
    if not args:
        raise _usage("bulk", "say what to do with the batch.", "action")
    if args[0].lower() in TEMPLATE_ACTIONS:  # payout templates (core.bulk.templates)
        return parse_template_action(args, actor, key)
    action = _BULK_ACTIONS.get(args[0].lower())
    if action is None:
        raise _usage("bulk", f"action: {_shown(args[0], 24)} is not one of {', '.join([*_BULK_ACTIONS, *sorted(TEMPLATE_ACTIONS)])}.", "action")
    rest = args[1:]
    if action == "upload":
        return Bulk(actor, key, "upload", path=" ".join(rest) or None)
    batch_id = _ref_arg("bulk", "batch id")(rest)
    return Bulk(actor, key, action, batch_id=batch_id)


def _pasted_list(rest: str) -> str | None:
    """The lines after `/bulk` when they are a pasted payout list (Disperse style, `address amount` a line), not
    an action: either they start on the next line, or the first word is an address, a @handle or a mention."""
    body = rest.strip()
    if not body:
        return None
    first = body.split(None, 1)[0]
    if first.lower() in _BULK_ACTIONS:
        return None
    if rest.lstrip(" \t").startswith(("\n", "\r")) or first[:2].lower() == "0x" or first[:1] == "@" or first[:2] == "<@":
        return body + "\n"
    return None


def _role(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> SetRole:
    if len(args) != 2:
        problem = "say who and which role." if not args else ("the role is missing." if len(args) == 1 else
                                                              f"too many words after /role: “{_shown(' '.join(args[2:]))}”.")
        raise _usage("role", problem, "role" if len(args) == 1 else "user")
    who, role = args
    if _HANDLE.match(who):
        target = Recipient(handle=who[1:].lower())
    elif _USER_REF.match(who):
        target = Recipient(user_ref=who)
    else:
        raise _usage("role", f"user: {_shown(who)} is neither a @handle nor a person like telegram:123.", "user")
    if role.lower() not in ROLE_NAMES:
        raise _usage("role", f"role: {_shown(role, 24)} is not one of {', '.join(ROLE_NAMES)}.", "role")
    return SetRole(actor, key, target, Role(role.lower()))


def _roles(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Roles:
    if args:
        raise _usage("roles", "/roles takes no arguments.")
    return Roles(actor, key)


def _audit(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Audit:
    if not args:
        return Audit(actor, key)
    if len(args) > 1 or not args[0].isascii() or not args[0].isdigit() or not 1 <= int(args[0]) <= 100:
        raise _usage("audit", f"n: {_shown(' '.join(args))} is not a whole number from 1 to 100.", "n")
    return Audit(actor, key, int(args[0]))


def _approve(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Approve:
    return Approve(actor, key, _ref_arg("approve", "payment id")(args))


def _reject(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Reject:
    ref = _ref_arg("reject", "payment id")(args[:1])
    reason = " ".join(args[1:]).strip() or None
    if reason is not None and len(reason) > 200:
        raise _usage("reject", f"reason: it is {len(reason)} characters long; keep it to 200.", "reason")
    return Reject(actor, key, ref, reason)


def _pending(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Pending:
    if args:
        raise _usage("pending", "/pending takes no arguments.")
    return Pending(actor, key)


def _dashboard(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Dashboard:
    if args:
        raise _usage("dashboard", "/dashboard takes no arguments.")
    return Dashboard(actor, key)


def _ledger(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Ledger:
    export = bool(args) and args[0].lower() == "export"
    rest = args[1:] if export else args
    limit = 20
    if rest and not export and rest[0].isascii() and rest[0].isdigit():
        if not 1 <= int(rest[0]) <= 50:
            raise _usage("ledger", f"n: {_shown(rest[0])} is not a whole number from 1 to 50.", "n")
        limit, rest = int(rest[0]), rest[1:]
    if len(rest) > 1:
        raise _usage("ledger", f"too many words: “{_shown(' '.join(rest))}”; give at most n and one token.")
    try:
        token = tokens.get(rest[0]).symbol if rest else None
    except UsageError as e:
        raise _usage("ledger", e.message, e.field) from None
    return Ledger(actor, key, limit, token, export)


_STANDARD = TokenRegistry.standard()

_PARSERS: dict[str, Callable[[list[str], Actor, str, TokenRegistry], Command]] = {
    "pay": _pay,
    "status": _status,
    "history": _history,
    "wallet": _wallet,
    "balance": _wallet,
    "link": _link,
    "cancel": _cancel,
    "confirm": _confirm,
    "bulk": _bulk,
    "mix": _mix,
    "withdraw": _withdraw,
    "deposit": _deposit,
    "release": _release,
    "start": _start,
    "tz": _tz,
    "help": _help,
    "role": _role,
    "roles": _roles,
    "audit": _audit,
    "approve": _approve,
    "reject": _reject,
    "pending": _pending,
    "ledger": _ledger,
    "dashboard": _dashboard,
    "payee": parse_payee,
    "payees": parse_payees,
    "schedules": parse_schedules,
    "schedule": parse_schedule,
    "alert": parse_alert,
    "alerts": parse_alerts,
    "price": parse_price,
}
