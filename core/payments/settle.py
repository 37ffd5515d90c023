"""Settling one treasury payment on chain: sign and store, send, record the outcome (reconcile: core.payments.reconcile).

What a reply says is what will happen:
- a payment the node refused to take stays signed and is reported as pending, with the node's reason; it is
  sent again automatically (reconcile), and the user is told the outcome;
- a payment is reported failed only when nothing can pay it any more: its transaction was mined and reverted
  and the contract has not paid the intent, or its nonce went to another transaction so it can never be
  mined. A failed payment is never sent again (reconcile only touches submitted ones);
- a payment the contract paid is reported paid, with the transaction that actually paid it, even when our
  own transaction reverted because a copy of the authorisation was mined first.
Every signed transaction of a payment (the first and each fee-bumped replacement) is kept as an Attempt,
and reconcile checks all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.addresses import short
from core.alerts import check_balances
from core.errors import ChainRejected, ChainUnavailable
from core.model import Attempt, Intent, IntentStatus, Notification, NotificationType, Receipt
from core.ports import PaymentOrder, SignedTx, UnitOfWork
from core.replies import Reply, Span, code, dumps
from core.services import Services, log
from core.views import amount_text, intent_detail, tx_spans

SENT_NOT_CONFIRMED = "Sent to the chain; it has not confirmed yet. I will message you when it does."
WAITING = (
    "Pending: not on chain yet. It stays signed and I will send it again automatically, then message you "
    "the outcome; do not pay it again."
)


def node_down_reply(intent: Intent) -> Reply:
    return Reply.error(
        "The chain node is not answering, so nothing was signed or sent.",
        ("Payment ", code(intent.id), " is saved as pending: send ", code(f"/confirm {intent.id}"),
         " to try again, or ", code(f"/cancel {intent.id}"), " to drop it."),
    )


@dataclass(frozen=True)
class Outcome:
    """What the chain says became of a payment: paid (by `tx_hash`) or failed for good (`note` says why)."""

    paid: bool
    tx_hash: str
    block_number: int | None = None
    fee: int | None = None
    note: str | None = None


def never_sent(nonce: int) -> str:
    return (f"never sent: the executor's nonce {nonce} was used by another transaction, so this one can never be "
            "mined. Nothing was paid")


# ------------------------------------------------------------------ settle
async def settle(s: Services, intent_id: str) -> Reply:
    """Sign (persisting the signed bytes and the attempt first), broadcast, wait for the receipt, record."""
    chain = s.chain
    floor = await _pending_nonce_or_none(s)
    if floor is None:
        async with s.uow() as uow:
            intent = await uow.intents.get(intent_id)
        assert intent is not None
        return node_down_reply(intent)
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        if intent.status is not IntentStatus.PENDING:
            return intent_detail(chain, intent)
        nonce = await uow.nonces.reserve(chain.chain_id, chain.executor, floor)
        try:
            signed = await chain.sign_payment(order_of(s, intent), nonce)
        except ChainRejected as e:
            await uow.rollback()
            return await _fail_unsigned(s, intent_id, e.message)
        except ChainUnavailable:
            await uow.rollback()
            return node_down_reply(intent)
        now = s.clock.now()
        intent.submit(nonce=signed.nonce, raw_tx=signed.raw, tx_hash=signed.tx_hash, now=now)
        await uow.intents.save(intent)
        await uow.intents.add_attempt(attempt_of(intent.id, signed, 0, now))
        await uow.commit()
    try:
        await chain.broadcast(signed.raw)
    except ChainRejected as e:
        return await _refused(s, intent, e.message)
    except ChainUnavailable:
        return intent_detail(chain, await note_waiting(s, intent_id, "the chain node is not answering"), headline=WAITING)
    try:
        receipt = await chain.wait_for_receipt(signed.tx_hash, s.policy.receipt_timeout)
        if receipt is not None:
            return intent_detail(chain, await finalize(s, intent_id, receipt))
    except ChainUnavailable:
        pass  # it was sent; reconcile reads the receipt later
    return intent_detail(chain, intent, headline=SENT_NOT_CONFIRMED)


async def _pending_nonce_or_none(s: Services) -> int | None:
    try:
        return await s.chain.pending_nonce()
    except ChainUnavailable:
        return None


async def _fail_unsigned(s: Services, intent_id: str, reason: str) -> Reply:
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        intent.error = reason
        intent.move(IntentStatus.FAILED, s.clock.now())
        await uow.intents.save(intent)
        await uow.commit()
    return intent_detail(s.chain, intent, headline="The chain would refuse this payment, so nothing was sent.")


async def _refused(s: Services, intent: Intent, reason: str) -> Reply:
    """The node would not take the stored transaction (executor out of gas, a nonce error...). Unless the
    chain shows it can never be mined, it stays signed and reconcile sends it again: so it is pending."""
    try:
        mined_next = await s.chain.mined_nonce()
        outcome = await observe(s, intent, [intent.tx_hash or ""], mined_next)
    except ChainUnavailable:
        outcome = None
    if outcome is not None:
        return intent_detail(s.chain, await record(s, intent.id, outcome))
    log.warning("payment %s: the node refused its transaction (%s); it stays signed and will be re-sent",
                intent.id, reason)
    return intent_detail(s.chain, await note_waiting(s, intent.id, f"the node refused it for now: {reason}"),
                         headline=WAITING)


async def note_waiting(s: Services, intent_id: str, why: str) -> Intent:
    """Note on a submitted payment why it is not on chain yet (/status shows it); returns the intent."""
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        if intent.status is IntentStatus.SUBMITTED:
            intent.error = why
            await uow.intents.save(intent)
            await uow.commit()
    return intent


# ------------------------------------------------------------------ outcomes
def _pays(receipt: Receipt, intent: Intent) -> bool:
    return receipt.ok and (not receipt.paid or intent.intent_hash in receipt.paid)


async def outcome_of(s: Services, intent: Intent, receipt: Receipt) -> Outcome:
    """A mined transaction's outcome for the intent. One that reverted (or did not pay this intent) is
    checked with the contract first: a copy of the authorisation may have paid it already."""
    if _pays(receipt, intent):
        return Outcome(True, receipt.tx_hash, receipt.block_number, receipt.fee, receipt.reason)
    if await s.chain.is_paid(intent.intent_hash):
        return await _paid_elsewhere(s, intent, receipt)
    reason = receipt.reason or dict(receipt.failed).get(intent.intent_hash) or "the transaction reverted"
    return Outcome(False, receipt.tx_hash, receipt.block_number, receipt.fee, reason)


async def _paid_elsewhere(s: Services, intent: Intent, ours: Receipt | None) -> Outcome:
    payer = await s.chain.paid_by(intent.intent_hash)
    ours_text = f"; ours ({short(ours.tx_hash)}) was refused because it was already paid" if ours else ""
    if payer is None:
        shown = ours.tx_hash if ours else intent.tx_hash or ""
        return Outcome(True, shown, ours.block_number if ours else None, None,
                       "paid on chain, but the transaction that paid it was not found; the one shown is ours")
    theirs = await s.chain.receipt(payer)
    return Outcome(True, payer, theirs.block_number if theirs else None, theirs.fee if theirs else None,
                   "paid by another transaction carrying this payment's authorisation" + ours_text)


async def observe(s: Services, intent: Intent, hashes: list[str], mined_next: int) -> Outcome | None:
    """What became of a submitted payment whose signed transactions are `hashes`, or None if it is still
    open. `mined_next` is the executor's mined nonce, read BEFORE this call: if it had passed the intent's
    nonce then and none of our transactions has a receipt now, none ever will."""
    receipts = [r for h in dict.fromkeys(hashes) if h and (r := await s.chain.receipt(h)) is not None]
    if receipts:
        return await outcome_of(s, intent, next((r for r in receipts if _pays(r, intent)), receipts[0]))
    if await s.chain.is_paid(intent.intent_hash):
        return await _paid_elsewhere(s, intent, None)
    if intent.nonce is not None and intent.nonce < mined_next:
        return Outcome(False, intent.tx_hash or "", note=never_sent(intent.nonce))
    return None


async def finalize(s: Services, intent_id: str, receipt: Receipt) -> Intent:
    """Record a mined transaction's outcome and queue its notifications, in one transaction."""
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id)
    assert intent is not None
    if intent.done:
        return intent
    return await record(s, intent_id, await outcome_of(s, intent, receipt))


async def record(s: Services, intent_id: str, outcome: Outcome) -> Intent:
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        if intent.done:
            return intent
        await apply_outcome(s, uow, intent, outcome)
        await uow.commit()
    # From signing (not from the request: a payment may wait for /confirm or approvers) to its final status.
    s.metrics.payment(intent.status.value, intent.updated_at - (intent.submitted_at or intent.created_at))
    s.notify_soon()
    if outcome.paid:  # LOW_BALANCE_ALERT: the treasury's token and the executor's gas, after each payment
        await check_balances(s, [s.token(intent.token)])
    return intent


async def apply_outcome(s: Services, uow: UnitOfWork, intent: Intent, outcome: Outcome) -> None:
    intent.tx_hash = outcome.tx_hash or intent.tx_hash
    intent.block_number, intent.fee, intent.error = outcome.block_number, outcome.fee, outcome.note
    intent.move(IntentStatus.CONFIRMED if outcome.paid else IntentStatus.FAILED, s.clock.now())
    await uow.intents.save(intent)
    for n in _notifications(s, intent):
        await uow.outbox.add(n)


def _notifications(s: Services, intent: Intent) -> list[Notification]:
    now = s.clock.now()
    what = amount_text(s.chain, intent)
    tx: tuple[str | Span, ...] = ("Tx: ", *tx_spans(s.chain, intent.tx_hash or ""))
    if intent.status is IntentStatus.FAILED:
        lines: list[tuple[str | Span, ...]] = [(f"Payment {intent.id} of {what} to ", code(short(intent.recipient)), f" failed: {intent.error}.")]
        if intent.block_number is not None:  # a transaction that never reached a block has nothing to show
            lines.append(tx)
        body = Reply.of(*lines, kind="error")
        return [Notification(f"{intent.id}:failed", intent.actor_ref, NotificationType.TRANSACTION_FAILED, dumps(body), now)]
    sent = Reply.of((f"Payment {intent.id} confirmed: {what} to ", code(short(intent.recipient)), "."), tx, kind="ok")
    out = [Notification(f"{intent.id}:sent", intent.actor_ref, NotificationType.PAYMENT_SENT, dumps(sent), now)]
    if intent.recipient_ref and intent.recipient_ref != intent.actor_ref:
        memo = (f"Memo: {intent.memo}",) if intent.memo else ()  # the same payment_received DM a bulk payout sends
        body = Reply.of((f"💸 You received {what} from {s.policy.bot_name} (payment ", code(intent.id), ")."), *memo, tx,
                        kind="ok", private=True)
        out.append(Notification(f"{intent.id}:received", intent.recipient_ref, NotificationType.PAYMENT_RECEIVED, dumps(body), now))
    return out


def order_of(s: Services, intent: Intent) -> PaymentOrder:
    return PaymentOrder(intent.intent_hash, intent.recipient, s.token(intent.token), intent.amount,
                        mixer_commitment=intent.mixer_commitment)


def attempt_of(intent_id: str, signed: SignedTx, bump: int, now: datetime) -> Attempt:
    return Attempt(intent_id, signed.tx_hash, signed.nonce, bump, signed.raw, now, signed.max_fee, signed.tip)
