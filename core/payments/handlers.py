"""Payments from the treasury: /pay, /confirm, /cancel, /status, /history (settling them: core.payments.settle)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.bulk.model import Batch
from core.bulk.views import totals_text
from core.commands import Cancel, Confirm, History, Pay, Status
from core.escrow.views import history_line as escrow_history_line
from core.errors import ChainUnavailable, NotAllowed, UserError
from core.ledger import Outflow, OutflowStatus
from core.model import Intent, IntentStatus, ProcessedKey
from core.money import TokenRegistry, format_units
from core.payments import approvals, limits, subjects
from core.payments.allowance import check_allowance
from core.payments.settle import node_down_reply, settle
from core.replies import Reply, Span, code
from core.services import Payee, Services, handle_is_stale, new_id, new_intent_hash, resolve_recipient
from core.views import amount_text, counted, history_line, intent_detail

SPEND_REFUSAL = "Only operators may spend the treasury. Ask an operator of this bot to send the payment."


async def pay(s: Services, cmd: Pay) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(SPEND_REFUSAL)
    token = s.token(cmd.amount.token.symbol)
    units = cmd.amount.units
    now = s.clock.now()
    async with s.uow() as uow:
        payee = await resolve_recipient(uow, cmd.recipient, platform=cmd.actor.platform)
    _refuse_own_addresses(s, payee)
    intent = Intent(
        id=new_id("pay"),
        key=cmd.key,
        actor_ref=cmd.actor.ref,
        recipient=payee.address,
        recipient_ref=payee.ref,
        token=token.symbol,
        amount=units,
        intent_hash=new_intent_hash(),
        created_at=now,
        updated_at=now,
    )
    limit = s.policy.confirm_above.get(token.symbol)
    over_limit = limit is not None and units > limit
    # A person named by @handle or mention: the payer sees the address it resolved to before money moves.
    intent.needs_confirmation = over_limit or payee.named is not None
    node_down = False
    try:
        await check_treasury(s, intent)
    except ChainUnavailable:
        node_down = True  # keep the payment so it can be retried with /confirm or dropped with /cancel
    record = ProcessedKey(cmd.key, "pay", cmd.actor.ref, now, intent_id=intent.id)
    async with s.uow() as uow:
        over = await limits.over_daily(s, uow, cmd.actor, {token.symbol: units})  # holds the payer's spend lock
        waiting = None
        if over is not None or approvals.needs_approval(s, token.symbol, units):
            intent.needs_confirmation = True  # never settled by a retry path: only the k-th approval signs it
            waiting = await approvals.request(s, uow, cmd.actor, subjects.of_intent(s, intent),
                                              approvals.ask_payment(s, intent, payee), over)
        await uow.intents.add(intent)
        await uow.keys.add(record)
        await uow.commit()
    if waiting is not None:  # stored pending; nothing is signed until the approvers approve
        s.notify_soon()
        return waiting
    if node_down and payee.named is None:
        return node_down_reply(intent)
    if intent.needs_confirmation:
        headline = _confirmation_headline(s, intent, payee, over_limit=over_limit, stale=handle_is_stale(s.policy, payee, now))
        if node_down:
            headline += " (The chain node is not answering right now: nothing was signed; /confirm tries again.)"
        return intent_detail(s.chain, intent, headline=headline, payee=payee.who if payee.named else None)
    return await settle(s, intent.id)


def _refuse_own_addresses(s: Services, payee: Payee) -> None:
    """Paying the treasury moves nothing but gas; paying the executor hands treasury funds to the hot key."""
    address = payee.address.lower()
    if address == s.chain.treasury.lower():
        raise UserError(
            "address: that is the treasury's own address (the Settlement contract that holds the funds); "
            "a payment to it would only burn gas. Pay someone else's address.",
            field="address",
        )
    if address == s.chain.executor.lower():
        raise UserError(
            "address: that is the executor's address (the hot key that signs SnowRail's payments and pays their "
            "gas); the treasury does not pay it from chat. Top up its gas from another wallet.",
            field="address",
        )


def _confirmation_headline(s: Services, intent: Intent, payee: Payee, *, over_limit: bool, stale: bool) -> str:
    what = amount_text(s.chain, intent)
    parts = [f"Confirm: pay {what} to {payee.who}?" if payee.named else f"Confirm: pay {what}?"]
    if stale and payee.named is not None:
        window = s.policy.handle_fresh_for
        span = counted(window.days, "day") if window.days else counted(int(window.total_seconds() // 3600), "hour")
        seen = payee.named.handle_seen_at
        last = f" (last seen {seen:%Y-%m-%d})" if seen else ""
        parts.append(
            f"⚠️ Stale handle: @{payee.named.handle} has not been seen holding this handle in the last {span}{last}. "
            "Handles change hands: make sure the address below is still theirs."
        )
    elif payee.named is not None:
        parts.append("Check that the address below is theirs.")
    if over_limit:
        parts.append("It is above this chat's limit.")
    return " ".join(parts)


async def confirm(s: Services, cmd: Confirm) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(SPEND_REFUSAL)
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref)
    if intent.status is not IntentStatus.PENDING:
        return intent_detail(s.chain, intent, headline=f"Nothing to confirm: this payment is {intent.status.value}.")
    async with s.uow() as uow:
        held = await approvals.hold_on(uow, intent.id, cancelling=False)
    if held is not None:
        raise NotAllowed(f"{intent.id} cannot be confirmed: {held}.")
    try:
        await check_treasury(s, intent)
    except ChainUnavailable:
        return node_down_reply(intent)
    return await settle(s, intent.id)


async def cancel(s: Services, cmd: Cancel) -> Reply:
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref)
    async with s.uow() as uow:
        intent = await uow.intents.get(intent.id, for_update=True) or intent
        if intent.status is not IntentStatus.PENDING:
            why = {
                IntentStatus.SUBMITTED: "it is already signed and on its way to the chain",
                IntentStatus.CONFIRMED: "it is already paid",
            }.get(intent.status, f"it is already {intent.status.value}")
            raise UserError(f"{intent.id} cannot be cancelled: {why}.")
        held = await approvals.hold_on(uow, intent.id, cancelling=True)  # under the lock the k-th approval takes
        if held is not None:
            raise UserError(f"{intent.id} cannot be cancelled: {held}.")
        intent.move(IntentStatus.CANCELLED, s.clock.now())
        await uow.intents.save(intent)
        await uow.commit()
    return intent_detail(s.chain, intent, headline="Cancelled. Nothing was paid.")


async def status(s: Services, cmd: Status) -> Reply:
    intent = await _own_intent(s, cmd.ref, cmd.actor.ref, allow_recipient=True)
    detail = intent_detail(s.chain, intent)
    if intent.status is IntentStatus.PENDING:
        async with s.uow() as uow:
            held = await approvals.hold_on(uow, intent.id, cancelling=False)
        if held is not None:  # no Confirm button: only the approvers send it
            cancel = tuple(b for b in detail.buttons if b.command.startswith("/cancel")) \
                if intent.actor_ref == cmd.actor.ref else ()
            detail = Reply(((Span(f"Awaiting approval: {held}."),), *detail.lines), cancel, kind=detail.kind)
    return replace(detail, private=True)  # who paid whom, and how much: not for a group


async def history(s: Services, cmd: History) -> Reply:
    """The actor's payments (sent and received), the bulk rows paid to their linked wallet and the batches they
    uploaded: newest first, `limit` in all."""
    async with s.uow() as uow:
        intents = await uow.intents.for_actor(cmd.actor.ref, cmd.limit)
        escrows = await uow.escrows.for_actor(cmd.actor.ref, cmd.limit)
        batches = await uow.batches.for_actor(cmd.actor.ref, cmd.limit)
        me = await uow.users.get(cmd.actor.ref)
        received = await uow.ledger.received(me.wallet, cmd.limit) if me is not None and me.wallet else []
    items: list[tuple[datetime, str, tuple[str | Span, ...]]] = [
        (i.created_at, i.id, history_line(s.chain, i, cmd.actor.ref)) for i in intents]
    items += [(e.created_at, e.id, escrow_history_line(s, e, cmd.actor.ref)) for e in escrows]
    items += [(b.started_at or b.created_at, b.id, batch_history_line(b, s.chain.tokens)) for b in batches]
    items += [(o.at, o.id, received_line(s, o)) for o in received]
    items = sorted(items, key=lambda item: (item[0], item[1]), reverse=True)[: cmd.limit]
    if not items:
        return Reply.of("No payments yet. Send one with /pay <address> <amount> [token].", private=True)
    head = f"Your last {counted(len(items), 'payment')}:"  # a batch counts as one: it links to its own report
    return Reply.of(head, *(line for _, _, line in items), private=True)


def batch_history_line(b: Batch, tokens: TokenRegistry) -> tuple[str | Span, ...]:
    when = (b.started_at or b.created_at).strftime("%Y-%m-%d %H:%M")
    outcome = f" ({b.paid:,} paid, {b.failed:,} failed)" if b.started_at else ""
    return (code(b.id), f"  {when}  bulk {b.status.value}{outcome}  {counted(b.rows, 'row')} · {totals_text(b.totals, tokens)} → ",
            b.filename)


def received_line(s: Services, o: Outflow) -> tuple[str | Span, ...]:
    token = s.token(o.token)
    memo = f"  {o.memo[:40]}" if o.memo else ""
    mark = "✅ paid" if o.status is OutflowStatus.PAID else "📤 sending"
    parts: list[str | Span] = [code(o.id), f"  {o.at:%Y-%m-%d %H:%M}  {mark}  {format_units(o.amount, token.decimals)} "
                                           f"{token.symbol} ← bulk payout{memo}"]
    if o.tx_hash:
        parts += ["  tx ", code(o.tx_hash)]
    return tuple(parts)


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
    """Refuse before anything is signed when the treasury (less what is already on its way) is short, or when
    the executor's on-chain allowance (less what is on its way) would not cover it."""
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
    await check_allowance(s, token, intent.amount)

