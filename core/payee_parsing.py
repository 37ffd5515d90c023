"""Chat text -> /payee, /payees and the template words of /bulk (save, run, templates); in core.parsing's table."""

from __future__ import annotations

import re

from core.addresses import parse_address
from core.commands import Actor, BulkRun, BulkSave, Command, PayeeAdd, PayeeRemove, Payees, Recipient, Templates
from core.errors import UsageError
from core.money import TokenRegistry
from core.payees import MAX_MEMO, check_name
from core.usage import USAGE

_HANDLE = re.compile(r"^@([A-Za-z0-9_]{1,32})$")
_BATCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
TEMPLATE_ACTIONS = frozenset({"save", "run", "templates"})
# What may follow `/bulk run <name>`: the words /pay's conditions start with (core.parsing.PAY_WHEN_WORDS).
_WHEN_WORDS = frozenset({"at", "in", "on", "every", "each", "daily", "weekly", "monthly", "yearly", "tomorrow",
                         "today", "tonight", "next", "from"})


def _usage(name: str, problem: str, field: str | None = None) -> UsageError:
    return UsageError(f"{problem}\nUsage: {USAGE[name]}", field=field)


def _shown(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _name(name: str, word: str, what: str) -> str:
    try:
        return check_name(word, what=what)
    except UsageError as e:
        raise _usage(name, e.message, e.field) from None


def parse_payee(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Command:
    if not args:
        raise _usage("payee", "action: say what to do, add or remove (/payees lists them).", "action")
    action, rest = args[0].lower(), args[1:]
    if action in ("list", "ls") and not rest:
        return Payees(actor, key)
    if action in ("remove", "rm", "delete"):
        if len(rest) != 1:
            raise _usage("payee", "name: give the name of one payee to remove." if not rest else
                         f"name: expected one name, got {len(rest)} words.", "name")
        return PayeeRemove(actor, key, _name("payee", rest[0], "payee"))
    if action != "add":
        raise _usage("payee", f"action: {_shown(args[0], 24)} is not one of add, remove.", "action")
    if len(rest) < 2:
        raise _usage("payee", "name: give a name and an address (0x…) or a @handle." if not rest else
                     "address: the address (0x…) or @handle is missing.", "name" if not rest else "address")
    name = _name("payee", rest[0], "payee")
    target = rest[1]
    if handle := _HANDLE.match(target):
        recipient = Recipient(handle=handle.group(1).lower())
    elif target.lower().startswith("0x"):
        try:
            recipient = Recipient(address=parse_address(target, field="address"))
        except UsageError as e:
            raise _usage("payee", e.message, e.field) from None
    else:
        raise _usage("payee", f"address: {_shown(target)} is neither an address (0x followed by 40 hex digits) nor a "
                     "@handle.", "address")
    memo = " ".join(rest[2:]).strip() or None
    if memo is not None and len(memo) > MAX_MEMO:
        raise _usage("payee", f"memo: it is {len(memo)} characters long; keep it to {MAX_MEMO}.", "memo")
    if memo is not None and not memo.isprintable():
        raise _usage("payee", "memo: it has characters that cannot be shown (control characters).", "memo")
    return PayeeAdd(actor, key, name, recipient, memo)


def parse_payees(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Payees:
    if args:
        raise _usage("payees", "/payees takes no arguments.")
    return Payees(actor, key)


def parse_template_action(args: list[str], actor: Actor, key: str) -> Command:
    """`/bulk save <batch id> as <name>`, `/bulk run <name> [every …]`, `/bulk templates` (args[0] is the action)."""
    action, rest = args[0].lower(), args[1:]
    if action == "templates":
        if rest:
            raise _usage("bulk", "/bulk templates takes no arguments.")
        return Templates(actor, key)
    if action == "save":
        if len(rest) != 3 or rest[1].lower() != "as":
            raise _usage("bulk", "name: write /bulk save <batch id> as <name>, e.g. /bulk save bulk-abcd2345 as payroll.",
                         "name")
        if not _BATCH.match(rest[0]):
            raise _usage("bulk", f"id: {_shown(rest[0])} is not a valid batch id.", "id")
        return BulkSave(actor, key, rest[0].lower(), _name("bulk", rest[2], "template"))
    if not rest:
        raise _usage("bulk", "name: give the name of the template to run (/bulk templates lists them).", "name")
    name = _name("bulk", rest[0], "template")
    tail = rest[1:]
    if tail and tail[0].lower() not in _WHEN_WORDS:
        raise _usage("bulk", f"when: too many words after /bulk run {name}: “{_shown(' '.join(tail))}”; a schedule "
                     "starts with at, in or every.", "when")
    return BulkRun(actor, key, name, " ".join(tail) or None)
