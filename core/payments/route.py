"""Which kind of payment a /pay asks for: from the treasury now, from the treasury on a schedule, or an intent
the payer funds from their own wallet (escrowed by the Settlement until its condition holds)."""

from __future__ import annotations

import re

from core.commands import Cancel, Pay, Status
from core.escrow import handlers as intents
from core.escrow.handlers import open_intent
from core.payments import handlers as payments
from core.payments.handlers import pay as pay_now
from core.errors import UserError
from core.replies import Reply
from core.schedules.handlers import schedule_pay
from core.services import Services

_RECURRING = re.compile(r"\b(every|each|daily|weekly|monthly|yearly|fortnightly)\b", re.IGNORECASE)


def kind_of(when: str | None) -> str:
    """"now" (no condition), "price" (when CRO above 0.12 USD), "recurring" (every …) or "time" (at …, in …)."""
    if not when or not when.strip():
        return "now"
    if when.strip().lower().startswith("when"):
        return "price"
    return "recurring" if _RECURRING.search(when) else "time"


async def pay(s: Services, cmd: Pay) -> Reply:
    """An operator pays from the treasury, now or on a schedule. Anyone else (and anyone naming a price
    condition) creates an intent that they fund themselves; open_intent refuses what an intent cannot be."""
    role = cmd.actor.role
    if cmd.recipient.name and not ((role.may_spend or role.may_approve) if role else s.policy.is_operator(cmd.actor)):
        # The team's payees are seen by operators, approvers and admins only: a member's /pay would show their address.
        raise UserError(f"address: {cmd.recipient.name} is neither an address nor a @handle (saved payees are for "
                        f"operators); write @{cmd.recipient.name} or their address.", field="address")
    kind = kind_of(cmd.when)
    if not s.policy.is_operator(cmd.actor) or kind == "price":
        return await open_intent(s, cmd)
    if kind == "now":
        return await pay_now(s, cmd)
    return await schedule_pay(s, cmd)


async def cancel(s: Services, cmd: Cancel) -> Reply:
    """/cancel of an intent ("int-…") or of a treasury payment."""
    return await (intents.cancel if cmd.ref.startswith(intents.PREFIX) else payments.cancel)(s, cmd)


async def status(s: Services, cmd: Status) -> Reply:
    """/status of an intent ("int-…") or of a treasury payment."""
    return await (intents.status if cmd.ref.startswith(intents.PREFIX) else payments.status)(s, cmd)
