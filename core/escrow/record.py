"""An escrowed intent brought in line with the contract's record of its hash, and the notices that causes.

The contract is the authority: what it holds, who funded it and whether it closed come from EscrowChain.escrow(),
never from adding up events, so an event seen twice (or missed) cannot change a sum. Applying the same state
again changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from core.escrow import notices
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.ports import EscrowEvent, EscrowState, OnChain
from core.model import Notification
from core.services import Services, log

_CLOSED = {OnChain.RELEASED: EscrowStatus.RELEASED, OnChain.REFUNDED: EscrowStatus.REFUNDED}


def observe(s: Services, intent: EscrowIntent, state: EscrowState, *, now: datetime,
            deposits: list[EscrowEvent] | None = None, closing_tx: str | None = None) -> list[Notification]:
    """Move `intent` to what `state` says (read from the contract after `deposits`, its funding logs, were seen);
    returns the notices to queue in the same transaction. `closing_tx`: the transaction that released or refunded
    it, when known (its log, or our own mined receipt)."""
    if state.status is OnChain.NONE:
        return []  # nothing funded yet (or a reorg took the funding away): there is nothing to record
    if intent.status is EscrowStatus.CANCELLED:
        # Funded after it was cancelled unfunded (an old link): the funder can refundExpired once it expires.
        log.warning("escrow %s: cancelled here but %s on chain (%s held)", intent.id, state.status.value, state.funded)
        return []
    if intent.status in (EscrowStatus.RELEASED, EscrowStatus.REFUNDED):
        return []  # closed: the contract closes an intent once, and we recorded it
    out: list[Notification] = []
    changed = state.funded != intent.funded
    intent.funded, intent.funder = state.funded, state.funder or intent.funder
    if state.status is OnChain.OPEN and changed and intent.funded > 0:
        out += notices.funded(s, intent, now)  # first: the outbox delivers oldest first, and this one matters most
    out += [notices.deposit_confirmed(s, intent, e, now) for e in deposits or () if e.kind == "funded"]
    if state.status is OnChain.OPEN:
        if intent.status is EscrowStatus.AWAITING and intent.fully_funded:
            intent.move(EscrowStatus.FUNDED, now)
        return out
    to = _CLOSED[state.status]
    if to is EscrowStatus.RELEASED and intent.status is EscrowStatus.AWAITING:
        intent.move(EscrowStatus.FUNDED, now)  # funded and released between two looks: it was funded first
    intent.move(to, now)
    intent.tx_hash = closing_tx or intent.tx_hash
    intent.settled_at, intent.error, intent.note = now, None, None
    return out + notices.closed(s, intent, now)


def cancel_unfunded(s: Services, intent: EscrowIntent, now: datetime, *, expired: bool) -> list[Notification]:
    """Nothing is held for it on chain: cancelled, nothing to give back. An expiry tells its creator (a /cancel
    has its reply)."""
    intent.move(EscrowStatus.CANCELLED, now)
    intent.settled_at = now
    return [notices.expired(s, intent, now)] if expired else []
