"""Payments from the treasury: /pay, /confirm, /cancel, /status, /history, and settling on chain."""

from __future__ import annotations

from core.commands import Cancel, Confirm, History, Pay, Status
from core.errors import ChainRejected, ChainUnavailable, NotAllowed, UserError
from core.model import Intent, IntentStatus, Notification, NotificationType, ProcessedKey, Receipt
from core.money import format_units
from core.ports import DuplicateKey, PaymentOrder
from core.replies import Reply, code, dumps
from core.services import Services, log, new_id, new_intent_hash, resolve_recipient
from core.addresses import short
from core.views import amount_text, history_line, intent_detail, tx_spans

SPEND_REFUSAL = "Only operators may spend the treasury. Ask an operator of this bot to send the payment."


async def pay(s: Services, cmd: Pay) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(SPEND_REFUSAL)
    token = s.token(cmd.amount.token.symbol)
    units = cmd.amount.units
    now = s.clock.now()
    async with s.uow() as uow:
        address, recipient_ref = await resolve_recipient(uow, cmd.recipient)
    intent = Intent(
        id=new_id("pay"),
        key=cmd.key,
        actor_ref=cmd.actor.ref,
        recipient=address,
        recipient_ref=recipient_ref,
        token=token.symbol,
        amount=units,
        intent_hash=new_intent_hash(),
        created_at=now,
        updated_at=now,
    )
    limit = s.policy.confirm_above.get(token.symbol)
    intent.needs_confirmation = limit is not None and units > limit
    node_down = False
    try:
        await check_treasury(s, intent)
    except ChainUnavailable:
        node_down = True  # keep the payment so it can be retried with /confirm or dropped with /cancel
    async with s.uow() as uow:
        await uow.intents.add(intent)
        await uow.keys.add(ProcessedKey(cmd.key, "pay", cmd.actor.ref, now, intent_id=intent.id))
        await uow.commit()
    if node_down:
        return _node_down_reply(intent)
    if intent.needs_confirmation:
        return intent_detail(
            s.chain, intent, headline=f"Confirm: pay {amount_text(s.chain, intent)}? It is above this chat's limit."
        )
    return await settle(s, intent.id)


async def confirm(s: Services, cmd: Confirm) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(SPEND_REFUSAL)
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref)
    if intent.status is not IntentStatus.PENDING:
        return intent_detail(s.chain, intent, headline=f"Nothing to confirm: this payment is {intent.status.value}.")
    try:
        await check_treasury(s, intent)
    except ChainUnavailable:
        return _node_down_reply(intent)
    return await settle(s, intent.id)


async def cancel(s: Services, cmd: Cancel) -> Reply:
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref)
    async with s.uow() as uow:
        intent = await uow.intents.get(intent.id, for_update=True) or intent
        if intent.status is not IntentStatus.PENDING:
            why = {
                IntentStatus.SUBMITTED: "it is already signed and sent to the chain",
                IntentStatus.CONFIRMED: "it is already paid",
            }.get(intent.status, f"it is already {intent.status.value}")
            raise UserError(f"{intent.id} cannot be cancelled: {why}.")
        intent.move(IntentStatus.CANCELLED, s.clock.now())
        await uow.intents.save(intent)
        await uow.commit()
    return intent_detail(s.chain, intent, headline="Cancelled. Nothing was paid.")


async def status(s: Services, cmd: Status) -> Reply:
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref, allow_recipient=True)
    return intent_detail(s.chain, intent)


async def history(s: Services, cmd: History) -> Reply:
    async with s.uow() as uow:
        intents = await uow.intents.for_actor(cmd.actor.ref, cmd.limit)
    if not intents:
        return Reply.of("No payments yet. Send one with /pay <address> <amount> [token].")
    head = f"Your last {len(intents)} payment{'s' if len(intents) != 1 else ''}:"
    return Reply.of(head, *(history_line(s.chain, i, cmd.actor.ref) for i in intents))


async def _own_intent(s: Services, ref: str, actor_ref: str, *, allow_recipient: bool = False) -> Intent:
    async with s.uow() as uow:
        intent = await uow.intents.get(ref)
    visible = intent is not None and (
        intent.actor_ref == actor_ref or (allow_recipient and intent.recipient_ref == actor_ref)
    )
    if intent is None or not visible:
        raise UserError(f"id: no payment {ref} of yours was found; /history lists yours.", field="id")
    return intent


async def check_treasury(s: Services, intent: Intent) -> None:
    """Refuse before anything is signed when the treasury (less what is already on its way) is short."""
    token = s.token(intent.token)
    held = await s.chain.balance(s.chain.treasury, token)
    async with s.uow() as uow:
        committed = await uow.intents.in_flight(token.symbol)
    free = held - committed
    if free < intent.amount:
        owed = f"; {format_units(committed, token.decimals)} {token.symbol} of it is committed to payments in flight" if committed else ""
        raise UserError(
            f"balance: the treasury holds {format_units(held, token.decimals)} {token.symbol}{owed}; "
            f"this payment needs {format_units(intent.amount, token.decimals)} {token.symbol}",
            field="balance",
        )


def _node_down_reply(intent: Intent) -> Reply:
    return Reply.error(
        "The chain node is not answering, so nothing was signed or sent.",
        ("Payment ", code(intent.id), " is saved as pending: send ", code(f"/confirm {intent.id}"),
         " to try again, or ", code(f"/cancel {intent.id}"), " to drop it."),
    )


async def settle(s: Services, intent_id: str) -> Reply:
    """Sign (persisting the signed bytes first), broadcast, wait for the receipt, record the outcome."""
    chain = s.chain
    floor = await _pending_nonce_or_none(s)
    if floor is None:
        async with s.uow() as uow:
            intent = await uow.intents.get(intent_id)
        assert intent is not None
        return _node_down_reply(intent)
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        if intent.status is not IntentStatus.PENDING:
            return intent_detail(chain, intent)
        order = _order(s, intent)
        nonce = await uow.nonces.reserve(chain.chain_id, chain.executor, floor)
        try:
            signed = await chain.sign_payment(order, nonce)
        except ChainRejected as e:
            await uow.rollback()
            return await _fail_unsigned(s, intent_id, e.message)
        except ChainUnavailable:
            await uow.rollback()
            return _node_down_reply(intent)
        intent.submit(nonce=signed.nonce, raw_tx=signed.raw, tx_hash=signed.tx_hash, now=s.clock.now())
        await uow.intents.save(intent)
        await uow.commit()
    try:
        await chain.broadcast(signed.raw)
        receipt = await chain.wait_for_receipt(signed.tx_hash, s.policy.receipt_timeout)
    except ChainUnavailable:
        receipt = None
    if receipt is None:
        return intent_detail(
            chain, intent, headline="Sent to the chain; it has not confirmed yet. I will message you when it does."
        )
    return intent_detail(chain, await finalize(s, intent_id, receipt), headline=None)


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


async def finalize(s: Services, intent_id: str, receipt: Receipt) -> Intent:
    """Record a mined transaction's outcome and queue its notifications, in one transaction."""
    now = s.clock.now()
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        assert intent is not None
        if intent.done:
            return intent
        intent.tx_hash, intent.block_number, intent.fee = receipt.tx_hash, receipt.block_number, receipt.fee
        paid = receipt.ok and (not receipt.paid or intent.intent_hash in receipt.paid)
        if paid:
            intent.error = receipt.reason
            intent.move(IntentStatus.CONFIRMED, now)
        else:
            intent.error = receipt.reason or dict(receipt.failed).get(intent.intent_hash) or "the transaction reverted"
            intent.move(IntentStatus.FAILED, now)
        await uow.intents.save(intent)
        for n in _notifications(s, intent):
            await uow.outbox.add(n)
        await uow.commit()
    s.notify_soon()
    return intent


def _notifications(s: Services, intent: Intent) -> list[Notification]:
    now = s.clock.now()
    what = amount_text(s.chain, intent)
    tx = ("Tx: ", *tx_spans(s.chain, intent.tx_hash or ""))
    if intent.status is IntentStatus.FAILED:
        body = Reply.of((f"Payment {intent.id} of {what} to ", code(short(intent.recipient)), f" failed: {intent.error}"), tx, kind="error")
        return [Notification(f"{intent.id}:failed", intent.actor_ref, NotificationType.TRANSACTION_FAILED, dumps(body), now)]
    sent = Reply.of((f"Payment {intent.id} confirmed: {what} to ", code(short(intent.recipient)), "."), tx, kind="ok")
    out = [Notification(f"{intent.id}:sent", intent.actor_ref, NotificationType.PAYMENT_SENT, dumps(sent), now)]
    if intent.recipient_ref and intent.recipient_ref != intent.actor_ref:
        body = Reply.of(f"You received {what}.", tx, kind="ok")
        out.append(Notification(f"{intent.id}:received", intent.recipient_ref, NotificationType.PAYMENT_RECEIVED, dumps(body), now))
    return out


async def reconcile(s: Services) -> int:
    """After a restart, or periodically: bring every signed-but-unsettled payment to a conclusion.
    Mined -> record it; unknown to the node -> re-send the same bytes; stuck too long -> replace it
    with the same nonce and a higher fee (the contract pays an intent hash at most once either way)."""
    settled = 0
    async with s.uow() as uow:
        open_intents = await uow.intents.with_status(IntentStatus.SUBMITTED)
    for intent in open_intents:
        try:
            receipt = await s.chain.receipt(intent.tx_hash or "")
            if receipt is not None:
                await finalize(s, intent.id, receipt)
                settled += 1
                continue
            if await s.chain.is_paid(intent.intent_hash):
                # An earlier transaction with the same nonce (before a fee bump) was the one mined.
                note = "settled by an earlier transaction with the same nonce; the tx shown is its replacement"
                await finalize(s, intent.id, Receipt(intent.tx_hash or "", True, 0, 0, 0, note, frozenset({intent.intent_hash})))
                settled += 1
                continue
            age = s.clock.now() - (intent.submitted_at or intent.updated_at)
            if age > s.policy.stuck_after and intent.nonce is not None:
                await _replace(s, intent, bump=max(1, int(age / s.policy.stuck_after)))
            elif intent.raw_tx:
                await s.chain.broadcast(intent.raw_tx)
        except ChainUnavailable:
            log.warning("reconcile: chain unavailable; will try again")
            break
        except ChainRejected as e:
            log.warning("reconcile: could not replace %s: %s", intent.id, e.message)
    return settled


def _order(s: Services, intent: Intent) -> PaymentOrder:
    return PaymentOrder(intent.intent_hash, intent.recipient, s.token(intent.token), intent.amount,
                        mixer_commitment=intent.mixer_commitment)


async def _replace(s: Services, intent: Intent, bump: int) -> None:
    assert intent.nonce is not None
    signed = await s.chain.sign_payment(_order(s, intent), intent.nonce, bump=bump)
    async with s.uow() as uow:
        current = await uow.intents.get(intent.id, for_update=True)
        if current is None or current.status is not IntentStatus.SUBMITTED:
            return
        current.resign(raw_tx=signed.raw, tx_hash=signed.tx_hash, now=s.clock.now())
        await uow.intents.save(current)
        await uow.commit()
    await s.chain.broadcast(signed.raw)
    log.info("replaced stuck transaction of %s (nonce %s, bump %s)", intent.id, intent.nonce, bump)


__all__ = ["pay", "confirm", "cancel", "status", "history", "settle", "finalize", "reconcile", "DuplicateKey"]
