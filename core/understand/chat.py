"""The chat side of plain-language requests: a preview with the exact slash command and Confirm / Cancel."""

from __future__ import annotations

from core.commands import Understand
from core.errors import UsageError
from core.parsing import parse
from core.replies import Button, Reply, code
from core.services import Services
from core.timezones import zone_of
from core.understand.parser import understand

_SCHEDULING = ("schedule_", "schedules", "bulk_run")


async def preview(services: Services, cmd: Understand) -> Reply:
    """Never acts: the reply names the command, and only pressing Confirm (the command itself) runs it."""
    async with services.uow() as uow:
        zone = await zone_of(uow, cmd.actor.ref)  # "tomorrow at 9" in the zone they set with /tz
    result = understand(cmd.text, tokens=services.chain.tokens, now=services.clock.now(), tz=zone.key)
    if result.action == "dismiss":
        return Reply.of("Cancelled: nothing was done.")
    if result.action is None or result.command is None:
        return Reply.of(result.ask or "I did not understand that; send /help to see what I can do.")
    command = result.command
    scheduled = result.at is not None or result.every is not None or result.action.startswith(_SCHEDULING)
    try:
        parse(command, actor=cmd.actor, key=cmd.key, tokens=services.chain.tokens)
    except UsageError as e:
        why = ("scheduling is not available yet, so there is nothing to confirm." if scheduled
               else f"it cannot run yet: {e.message.splitlines()[0]}")
        return Reply.of(("I read that as ", code(command)), f"But {why}")
    return Reply.of(("I read that as ", code(command)), "Nothing happens until you press Confirm.").with_buttons(
        Button("Confirm", command, "primary"), Button("Cancel", "cancel", "secondary"))
