"""The DMs escrowed intents cause (funded, deposit confirmed, executed, refunded, pending), as outbox rows.

Each row's dedup key names the fact it reports (a funded level, a funding log, a closing, a transaction), so the
watcher re-reading an event, or two passes seeing the same state, add nothing.
"""

from __future__ import annotations

from datetime import datetime

from core.addresses import short
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.ports import EscrowEvent
from core.model import Notification, NotificationType
from core.money import format_units
from core.replies import Reply, Span, code, dumps
from core.services import Services
from core.views import tx_spans

Line = tuple[str | Span, ...]


def units(s: Services, intent: EscrowIntent, value: int) -> str:
    token = s.token(intent.token)
    return f"{format_units(value, token.decimals)} {token.symbol}"


def funded_text(s: Services, intent: EscrowIntent) -> str:
    """'funded 4 of 10 USDC', as /status and every notice say it."""
    token = s.token(intent.token)
    return f"funded {format_units(intent.funded, token.decimals)} of {units(s, intent, intent.amount)}"


def _tx(s: Services, tx_hash: str | None) -> tuple[Line, ...]:
    return (("Tx: ", *tx_spans(s.chain, tx_hash)),) if tx_hash else ()


def _note(intent: EscrowIntent, suffix: str, user_ref: str, kind: NotificationType, body: Reply,
          now: datetime) -> Notification:
    return Notification(f"{intent.id}:{suffix}", user_ref, kind, dumps(body), now)


def _to_recipient(intent: EscrowIntent) -> str | None:
    return intent.recipient_ref if intent.recipient_ref and intent.recipient_ref != intent.actor_ref else None


def funded(s: Services, intent: EscrowIntent, now: datetime) -> list[Notification]:
    """intent_funded to the creator and the recipient: once per funded level (a top-up is a new level)."""
    level = funded_text(s, intent)
    if intent.funded < intent.amount:
        rest = units(s, intent, intent.amount - intent.funded)
        tail: Line = (f"{rest} to go: ", code(f"/deposit {intent.id}"), " gives the link again.")
    else:
        surplus = intent.funded - intent.amount
        tail = ("Fully funded: it pays on its condition.",
                f" The surplus of {units(s, intent, surplus)} goes back to the funder." if surplus else "")
    out = [_note(intent, f"funded:{intent.funded}", intent.actor_ref, NotificationType.INTENT_FUNDED,
                 Reply.of(("Intent ", code(intent.id), f" is {level}."), tail, kind="ok", private=True), now)]
    recipient = _to_recipient(intent)
    if recipient:
        body = Reply.of(("Intent ", code(intent.id), f" paying you {units(s, intent, intent.amount)} is {level}."),
                        "You are paid when its condition holds; until then its funder can still cancel it.",
                        kind="info", private=True)
        out.append(_note(intent, f"funded:{intent.funded}:recipient", recipient, NotificationType.INTENT_FUNDED, body, now))
    return out


def deposit_confirmed(s: Services, intent: EscrowIntent, event: EscrowEvent, now: datetime) -> Notification:
    """deposit_confirmed to the creator, once per funding log (transaction and log index)."""
    body = Reply.of(("Deposit confirmed: ", f"{units(s, intent, event.value)} into intent ", code(intent.id),
                     f" (now {funded_text(s, intent)})."), *_tx(s, event.tx_hash), kind="ok", private=True)
    return _note(intent, f"deposit:{event.tx_hash}:{event.log_index}", intent.actor_ref,
                 NotificationType.DEPOSIT_CONFIRMED, body, now)


def closed(s: Services, intent: EscrowIntent, now: datetime) -> list[Notification]:
    """The closing notices: intent_executed to both on release; intent_refunded to the creator."""
    if intent.status is EscrowStatus.RELEASED:
        return _executed(s, intent, now)
    if intent.status is EscrowStatus.REFUNDED:
        by_funder = intent.nonce is None  # we never signed a refund: the funder's own refundExpired closed it
        why = ("its funder took it back on chain after it expired" if by_funder
               else "it expired" if intent.expires_at <= now else "it was cancelled")
        body = Reply.of(("Intent ", code(intent.id), f" refunded: {units(s, intent, intent.funded)} went back to ",
                         code(short(intent.funder or "")), f" because {why}."), *_tx(s, intent.tx_hash),
                        kind="info", private=True)
        return [_note(intent, "refunded", intent.actor_ref, NotificationType.INTENT_REFUNDED, body, now)]
    return []


def expired(s: Services, intent: EscrowIntent, now: datetime) -> Notification:
    """intent_expired to the creator: it expired before anything was funded."""
    body = Reply.of(("Intent ", code(intent.id), f" for {units(s, intent, intent.amount)} expired before it was "
                     "funded; nothing was held, so nothing goes back."), kind="info", private=True)
    return _note(intent, "expired", intent.actor_ref, NotificationType.INTENT_EXPIRED, body, now)


def _executed(s: Services, intent: EscrowIntent, now: datetime) -> list[Notification]:
    what = units(s, intent, intent.amount)
    surplus = intent.funded - intent.amount
    lines: list[Line] = [("Intent ", code(intent.id), f" executed: {what} paid to ", code(short(intent.recipient)), ".")]
    if surplus > 0:
        lines.append((f"The surplus of {units(s, intent, surplus)} went back to ", code(short(intent.funder or "")), "."))
    out = [_note(intent, "executed", intent.actor_ref, NotificationType.INTENT_EXECUTED,
                 Reply.of(*lines, *_tx(s, intent.tx_hash), kind="ok", private=True), now)]
    recipient = _to_recipient(intent)
    if recipient:
        memo = (f"Memo: {intent.memo}",) if intent.memo else ()
        body = Reply.of((f"💸 You received {what} from intent ", code(intent.id), "."), *memo, *_tx(s, intent.tx_hash),
                        kind="ok", private=True)
        out.append(_note(intent, "executed:recipient", recipient, NotificationType.INTENT_EXECUTED, body, now))
    return out


def pending(s: Services, intent: EscrowIntent, waited_s: float, now: datetime) -> Notification:
    """transaction_pending to the creator, once per signed transaction that waits too long."""
    what = "release" if intent.status is EscrowStatus.RELEASING else "refund"
    body = Reply.of(("The ", what, " of intent ", code(intent.id), f" has waited {int(waited_s // 60)} min for the "
                     "chain. It stays signed and is sent again automatically; nothing can pay twice."),
                    *_tx(s, intent.tx_hash), kind="info", private=True)
    return _note(intent, f"pending:{intent.tx_hash}", intent.actor_ref, NotificationType.TRANSACTION_PENDING, body, now)
