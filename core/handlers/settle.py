"""Settling one treasury payment on chain: sign and store, send, record the outcome; reconcile what is open.

What a reply says is what will happen:
- a payment the node refused to take stays signed and is reported as pending, with the node's reason; it is
  sent again automatically (reconcile), and the user is told the outcome;
- a payment is reported failed only when nothing can pay it any more: its transaction was mined and reverted
  and the contract has not paid the intent, or its nonce went to another transaction so it can never be
  mined. A failed payment is never sent again (reconcile only touches submitted ones);
- a payment the contract paid is reported paid, with the transaction that actually paid it, even when our
  own transaction reverted because a copy of the authorisation was mined first.
Every signed transaction of a payment (the first and each fee-bumped replacement) is kept as an Attempt,
and reconcile checks all of them, under one lock shared by every process on the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.addresses import short
from core.errors import ChainRejected, ChainUnavailable
from core.model import Attempt, Intent, IntentStatus, Notification, NotificationType, Receipt
from core.ports import PaymentOrder, SignedTx, UnitOfWork
from core.replies import Reply, code, dumps
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
        await uow.intents.add_attempt(_attempt(intent.id, signed, 0, now))
        await uow.commit()
    try:
        await chain.broadcast(signed.raw)
    except ChainRejected as e:
        return await _refused(s, intent, e.message)
    except ChainUnavailable:
        return intent_detail(chain, await _waiting(s, intent_id, "the chain node is not answering"), headline=WAITING)
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
    return intent_detail(s.chain, await _waiting(s, intent.id, f"the node refused it for now: {reason}"),
                         headline=WAITING)


async def _waiting(s: Services, intent_id: str, why: str) -> Intent:
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
        await _apply(s, uow, intent, outcome)
        await uow.commit()
    s.notify_soon()
    return intent


async def _apply(s: Services, uow: UnitOfWork, intent: Intent, outcome: Outcome) -> None:
    intent.tx_hash = outcome.tx_hash or intent.tx_hash
    intent.block_number, intent.fee, intent.error = outcome.block_number, outcome.fee, outcome.note
    intent.move(IntentStatus.CONFIRMED if outcome.paid else IntentStatus.FAILED, s.clock.now())
    await uow.intents.save(intent)
    for n in _notifications(s, intent):
        await uow.outbox.add(n)


def _notifications(s: Services, intent: Intent) -> list[Notification]:
    now = s.clock.now()
    what = amount_text(s.chain, intent)
    tx = ("Tx: ", *tx_spans(s.chain, intent.tx_hash or ""))
    if intent.status is IntentStatus.FAILED:
        lines: list = [(f"Payment {intent.id} of {what} to ", code(short(intent.recipient)), f" failed: {intent.error}.")]
        if intent.block_number is not None:  # a transaction that never reached a block has nothing to show
            lines.append(tx)
        body = Reply.of(*lines, kind="error")
        return [Notification(f"{intent.id}:failed", intent.actor_ref, NotificationType.TRANSACTION_FAILED, dumps(body), now)]
    sent = Reply.of((f"Payment {intent.id} confirmed: {what} to ", code(short(intent.recipient)), "."), tx, kind="ok")
    out = [Notification(f"{intent.id}:sent", intent.actor_ref, NotificationType.PAYMENT_SENT, dumps(sent), now)]
    if intent.recipient_ref and intent.recipient_ref != intent.actor_ref:
        body = Reply.of(f"You received {what}.", tx, kind="ok")
        out.append(Notification(f"{intent.id}:received", intent.recipient_ref, NotificationType.PAYMENT_RECEIVED, dumps(body), now))
    return out


# ------------------------------------------------------------------ reconcile
class _Busy(Exception):
    """Another process holds the reconcile lock."""


def lock_name(s: Services) -> str:
    """One lock per executor account on a chain: its transactions share one nonce sequence."""
    return f"payments:reconcile:{s.chain.chain_id}:{s.chain.executor.lower()}"


async def reconcile(s: Services) -> int:
    """After a restart, or periodically: bring every signed-but-unsettled payment to a conclusion.
    Any attempt mined -> record it (a revert is checked with the contract first); nonce taken by another
    transaction -> failed, never sent; unknown to the node -> re-send the latest bytes; stuck too long ->
    replace it with the same nonce and a higher fee (the contract pays an intent hash at most once)."""
    async with s.uow() as uow:
        open_intents = await uow.intents.with_status(IntentStatus.SUBMITTED)
    if not open_intents:
        return 0
    settled = 0
    try:
        mined_next = await s.chain.mined_nonce()  # before any receipt is read: see observe()
        for intent in open_intents:
            try:
                settled += await _reconcile_one(s, intent, mined_next)
            except ChainRejected as e:
                log.warning("reconcile: %s: %s", intent.id, e.message)
    except ChainUnavailable:
        log.warning("reconcile: chain unavailable; will try again")
    except _Busy:
        log.info("reconcile: another process is reconciling these payments; leaving them to it")
    return settled


def _hashes(intent: Intent, attempts: list[Attempt]) -> list[str]:
    hashes = [a.tx_hash for a in attempts]
    if intent.tx_hash and intent.tx_hash not in hashes:  # signed before attempts were kept
        hashes.append(intent.tx_hash)
    return hashes


async def _reconcile_one(s: Services, intent: Intent, mined_next: int) -> int:
    async with s.uow() as uow:
        hashes = _hashes(intent, await uow.intents.attempts(intent.id))
    outcome = await observe(s, intent, hashes, mined_next)  # chain reads, outside any transaction
    send: bytes | None = None
    async with s.uow() as uow:
        if not await uow.try_lock(lock_name(s)):
            raise _Busy()
        current = await uow.intents.get(intent.id, for_update=True)
        if current is None or current.status is not IntentStatus.SUBMITTED:
            return 0
        attempts = await uow.intents.attempts(intent.id)
        if set(_hashes(current, attempts)) != set(hashes):
            return 0  # another process replaced it meanwhile: look again next time
        if outcome is not None:
            await _apply(s, uow, current, outcome)
            await uow.commit()
            s.notify_soon()
            return 1
        now = s.clock.now()
        age = now - (current.submitted_at or current.updated_at)
        if age > s.policy.stuck_after and current.nonce is not None:
            bump = (max(a.bump for a in attempts) if attempts else 0) + max(1, int(age / s.policy.stuck_after))
            send = await _replace(s, uow, current, bump, now)
        else:
            send = current.raw_tx
    if send:
        try:
            await s.chain.broadcast(send)
        except ChainRejected as e:
            log.warning("reconcile: the node refused %s again (%s); will retry", intent.id, e.message)
            await _waiting(s, intent.id, f"the node refused it for now: {e.message}")
    return 0


async def _replace(s: Services, uow: UnitOfWork, intent: Intent, bump: int, now: datetime) -> bytes | None:
    """Sign a replacement (same nonce, higher fee) and keep it as a new attempt, under the reconcile lock;
    returns the bytes to broadcast once committed, or None if the chain would refuse it."""
    assert intent.nonce is not None
    try:
        signed = await s.chain.sign_payment(order_of(s, intent), intent.nonce, bump=bump)
    except ChainRejected as e:
        # The stuck transaction stays as it is (it may still be mined); the next pass looks again.
        log.warning("reconcile: could not replace %s: %s", intent.id, e.message)
        intent.error = f"its fee could not be raised: {e.message}"
        await uow.intents.save(intent)
        await uow.commit()
        return intent.raw_tx
    intent.resign(raw_tx=signed.raw, tx_hash=signed.tx_hash, now=now)
    await uow.intents.save(intent)
    await uow.intents.add_attempt(_attempt(intent.id, signed, bump, now))
    await uow.commit()
    log.info("replaced stuck transaction of %s (nonce %s, bump %s)", intent.id, intent.nonce, bump)
    return signed.raw


def order_of(s: Services, intent: Intent) -> PaymentOrder:
    return PaymentOrder(intent.intent_hash, intent.recipient, s.token(intent.token), intent.amount,
                        mixer_commitment=intent.mixer_commitment)


def _attempt(intent_id: str, signed: SignedTx, bump: int, now: datetime) -> Attempt:
    return Attempt(intent_id, signed.tx_hash, signed.nonce, bump, signed.raw, now, signed.max_fee, signed.tip)
