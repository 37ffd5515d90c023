"""Chat text -> /schedules and /schedule commands (registered in core.parsing's table)."""

from __future__ import annotations

import re

from core.commands import Actor, ChangeSchedule, ScheduleAction, Schedules
from core.errors import UsageError
from core.money import TokenRegistry
from core.payees import looks_like_name
from core.usage import USAGE

_ACTIONS: dict[str, ScheduleAction] = {"pause": "pause", "resume": "resume", "cancel": "cancel", "skip": "skip"}
_ID = re.compile(r"^sch-[A-Za-z0-9]{1,32}$")
_HANDLE = re.compile(r"^@[A-Za-z0-9_]{1,32}$")


def _usage(name: str, problem: str, field: str | None = None) -> UsageError:
    return UsageError(f"{problem}\nUsage: {USAGE[name]}", field=field)


def parse_schedules(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> Schedules:
    if args:
        raise _usage("schedules", "/schedules takes no arguments.")
    return Schedules(actor, key)


def parse_schedule(args: list[str], actor: Actor, key: str, tokens: TokenRegistry) -> ChangeSchedule:
    if not args:
        raise _usage("schedule", "say what to do: pause, resume, cancel or skip, and the schedule id.", "action")
    action = _ACTIONS.get(args[0].lower())
    if action is None:
        shown = args[0] if len(args[0]) <= 24 else args[0][:24] + "…"
        raise _usage("schedule", f"action: {shown} is not one of pause, resume, cancel, skip.", "action")
    if len(args) != 2:
        raise _usage("schedule", "give one schedule id (sch-…) or name; /schedules lists yours." if len(args) == 1
                     else f"expected one schedule id or name, got {len(args) - 1} words.", "id")
    # A name (a template, a payee, a @handle) is resolved against the caller's schedules by the handler.
    if not (_ID.match(args[1]) or _HANDLE.match(args[1]) or looks_like_name(args[1])):
        shown = args[1] if len(args[1]) <= 40 else args[1][:40] + "…"
        raise _usage("schedule", f"id: {shown} is neither a schedule id (sch-…) nor a name; /schedules lists yours.",
                     "id")
    return ChangeSchedule(actor, key, action, args[1].lower())
