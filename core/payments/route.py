"""Which kind of payment a /pay asks for: from the treasury now, from the treasury on a schedule, or an intent
the payer funds from their own wallet (escrowed by the Settlement until its condition holds)."""

from __future__ import annotations

import re

from core.commands import Pay
from core.escrow.handlers import open_intent
from core.payments.handlers import pay as pay_now
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
    kind = kind_of(cmd.when)
    if not s.policy.is_operator(cmd.actor) or kind == "price":
        return await open_intent(s, cmd)
    if kind == "now":
        return await pay_now(s, cmd)
    return await schedule_pay(s, cmd)
