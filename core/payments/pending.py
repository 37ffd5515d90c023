"""transaction_pending: the one DM to a treasury payment's requester when its transaction waits longer than
TX_PENDING_NOTICE_SECONDS (reconcile, which already looks at every unsettled payment, queues it)."""

from __future__ import annotations

from datetime import datetime

from core.model import Attempt, Intent, Notification, NotificationType
from core.ports import UnitOfWork
from core.replies import Reply, bold, code, dumps
from core.services import Services
from core.views import amount_text, tx_spans


def waited_since(intent: Intent, attempts: list[Attempt]) -> datetime:
    """When its first transaction was signed: a fee-raised replacement does not restart the wait."""
    return min((a.created_at for a in attempts), default=intent.submitted_at or intent.updated_at)


async def queue_notice(s: Services, uow: UnitOfWork, intent: Intent, attempts: list[Attempt], now: datetime) -> bool:
    """In `uow` (the caller commits): a transaction_pending DM for `intent` once it has waited past the setting.
    One per payment, however many passes, replacements or processes see it: the outbox ignores a repeated key.
    True when it is due (queued now or before)."""
    waited = now - waited_since(intent, attempts)
    if waited <= s.policy.tx_pending_notice or intent.tx_hash is None:
        return False
    minutes = max(int(waited.total_seconds() // 60), 1)
    body = Reply.of(
        ("⏳ Payment ", code(intent.id), " of ", bold(amount_text(s.chain, intent)),
         f" has been waiting {minutes} min for the network to include it."),
        ("Transaction ", *tx_spans(s.chain, intent.tx_hash)),
        "I keep sending it (with a higher fee if it stays stuck), and the contract pays it at most once. You will "
        "be told when it is confirmed.",
        ("See ", code(f"/status {intent.id}"), "."),
        private=True,
    )
    await uow.outbox.add(Notification(f"{intent.id}:pending", intent.actor_ref, NotificationType.TRANSACTION_PENDING,
                                      dumps(body), now))
    return True
