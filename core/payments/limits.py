"""OPERATOR_DAILY_LIMIT: what one person may request from the treasury over a rolling 24 hours.

Payments, mixer deposits and bulk rows count from when they were requested, whether pending, approved or sent;
cancelled, rejected, expired and failed ones do not. A request that would go over the limit is not refused
outright: it waits for approvals as if it were above APPROVAL_THRESHOLD (core.payments.approvals), and is refused
only when nobody could approve it. The check and the request's insert happen in one unit of work that holds the
person's spend lock, so two requests sent at once cannot both squeeze under the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.commands import Actor
from core.errors import NotAllowed
from core.model import Spend
from core.money import format_units
from core.ports import UnitOfWork
from core.services import Services

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Over:
    """A request that would take its requester past the daily limit of one token."""

    token: str
    decimals: int
    limit: int
    used: int  # in the last 24 h, before this request
    asked: int
    frees_at: datetime | None  # when enough of `used` ages out for this request to fit; None: it alone exceeds the limit

    def _units(self, amount: int) -> str:
        return f"{format_units(amount, self.decimals)} {self.token}"

    @property
    def text(self) -> str:
        """Names the limit, what is used, and when room frees up."""
        head = (f"the daily limit is {self._units(self.limit)} per person over 24 hours; "
                f"{self._units(self.used)} used in the last 24 hours, and this asks for {self._units(self.asked)}")
        if self.frees_at is None:
            return f"{head}, more than the whole limit on its own"
        return f"{head}; there is room for it from {self.frees_at:%Y-%m-%d %H:%M} UTC"


async def over_daily(s: Services, uow: UnitOfWork, actor: Actor, amounts: dict[str, int]) -> Over | None:
    """None when this request (base units per token) fits the requester's daily limit, else by how much it does not.
    Takes the requester's spend lock for the rest of `uow` (NotAllowed, nothing changed, if another of their
    requests holds it), so call it in the unit of work that stores the request."""
    limits = s.policy.daily_limit
    asked = {token: units for token, units in amounts.items() if token in limits and units > 0}
    if not asked:
        return None
    if not await uow.try_lock(f"spend:{actor.ref}"):
        raise NotAllowed("Another request of yours is being recorded at this very moment; send this one again in a "
                         "moment. Nothing changed.")
    since = s.clock.now() - WINDOW
    spends = await uow.intents.spent_since(actor.ref, since) + await uow.batches.spent_since(actor.ref, since)
    for token, units in asked.items():
        over = _over(s, token, units, limits[token], sorted((sp for sp in spends if sp.token == token), key=lambda sp: sp.at))
        if over is not None:
            return over
    return None


def _over(s: Services, token: str, units: int, limit: int, spends: list[Spend]) -> Over | None:
    used = sum(sp.amount for sp in spends)
    if used + units <= limit:
        return None
    frees_at = None
    if units <= limit:
        need, freed = used + units - limit, 0
        for sp in spends:  # oldest first: the earliest moment enough has aged out
            freed += sp.amount
            if freed >= need:
                frees_at = sp.at + WINDOW
                break
    return Over(token, s.token(token).decimals, limit, used, units, frees_at)
