"""The executor's on-chain allowance: refuse, before anything is signed, what the Settlement would refuse anyway.

The owner caps what the bot's key may pay out of each token per period (`setExecutorAllowance`); a token with
no allowance set has no on-chain cap. What payments and batches already on their way will take counts as
spent, so two payments in a row cannot both pass this check and then one fail on chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError
from core.money import Token, format_units
from core.ports import ExecutorAllowance
from core.services import Services

NO_CAP = "no on-chain cap (the owner has set no executor allowance)"


@dataclass(frozen=True)
class Room:
    """What the executor may still pay out of one token now: the contract's allowance less what is on its way."""

    allowance: ExecutorAllowance
    committed: int  # base units signed or batched but not settled, which the allowance will also pay for

    @property
    def left(self) -> int:
        return max(self.allowance.remaining - self.committed, 0)


def period_text(seconds: int) -> str:
    """24 h, 48 h, 7 d, 90 min, 45 s: the shortest exact form ("48 h" reads better than "2 d")."""
    if seconds >= 7 * 86_400 and seconds % 86_400 == 0:
        return f"{seconds // 86_400} d"
    if seconds >= 3_600 and seconds % 3_600 == 0:
        return f"{seconds // 3_600} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def cap_text(token: Token, allowance: ExecutorAllowance) -> str:
    """"10000 USDC per 24 h"."""
    return f"{format_units(allowance.amount, token.decimals)} {token.symbol} per {period_text(allowance.period)}"


def refill_text(allowance: ExecutorAllowance) -> str:
    return f"{allowance.refills_at:%Y-%m-%d %H:%M} UTC"


async def room(s: Services, token: Token) -> Room | None:
    """The executor's room in `token` now, or None when the contract puts no cap on it. ChainUnavailable
    propagates: a caller that cannot read it must not sign."""
    allowance = await s.chain.executor_allowance(token)
    if allowance is None:
        return None
    async with s.uow() as uow:
        committed = await uow.intents.in_flight(token.symbol) + await uow.batches.committed(token.symbol)
    return Room(allowance, committed)


def refusal(token: Token, r: Room, needed: int, what: str = "this payment", outcome: str = "Nothing was signed") -> str:
    """The sentence for a refusal: the cap, what is left, what is needed and when it refills."""
    d = token.decimals
    owed = (f" ({format_units(r.committed, d)} {token.symbol} of it is committed to payments on their way)"
            if r.committed else "")
    return (
        f"allowance: the Settlement contract caps what the bot's key may pay at {cap_text(token, r.allowance)}; "
        f"{format_units(r.left, d)} {token.symbol} is left in this period{owed}, and {what} needs "
        f"{format_units(needed, d)} {token.symbol}. It refills at {refill_text(r.allowance)}. {outcome}; "
        f"the owner can raise it with: snowrail chain allowance {token.symbol} AMOUNT PERIOD."
    )


async def check_allowance(s: Services, token: Token, amount: int, what: str = "this payment") -> None:
    """UserError (naming the cap and when it refills) when `amount` does not fit the executor's allowance."""
    r = await room(s, token)
    if r is not None and amount > r.left:
        raise UserError(refusal(token, r, amount, what), field="allowance")


async def shortfalls(s: Services, totals: dict[str, int], what: str = "this batch",
                     outcome: str = "Nothing was paid") -> list[str]:
    """A refusal sentence for each token whose total (e.g. a bulk batch's) the executor's allowance cannot pay."""
    out = []
    for symbol, needed in totals.items():
        token = s.token(symbol)
        r = await room(s, token)
        if r is not None and needed > r.left:
            out.append(refusal(token, r, needed, what, outcome))
    return out
