"""Releasing or refunding one escrowed intent exactly once: sign and store, commit, send, record.

The same shape as core.payments.settle: under the intent's row lock the status is checked, the executor's nonce
reserved, the release (or refund) signed and stored with the intent moved to RELEASING (REFUNDING), and only
after that commit is it broadcast. A process that dies anywhere in between leaves either nothing signed, or the
signed bytes, which core.escrow.reconcile sends again. The contract closes an intent at most once, and the intent
is recorded released or refunded only when the contract says so (core.escrow.record).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.addresses import short
from core.errors import ChainRejected, ChainUnavailable, UserError
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.notices import funded_text
from core.escrow.ports import EscrowChain, OnChain
from core.escrow.record import cancel_unfunded, observe
from core.escrow.views import detail_lines
from core.model import Notification, Receipt
from core.ports import SignedTx, UnitOfWork
from core.replies import Reply, bold, code
from core.services import Services, log
from core.timezones import zone_of

RELEASE, REFUND = "release", "refund"
_MOVING = {RELEASE: EscrowStatus.RELEASING, REFUND: EscrowStatus.REFUNDING}
_CLOSED = {OnChain.RELEASED, OnChain.REFUNDED}
SENT_NOT_CONFIRMED = "Sent to the chain; it has not confirmed yet. I will message you when it does."
_UTC = ZoneInfo("UTC")
WAITING = "Signed, but not on chain yet: it stays signed and is sent again automatically. Nothing can pay twice."


async def release(s: Services, intent_id: str) -> Reply:
    """Pay the recipient of a fully funded intent (any surplus back to its funder); waits briefly for the block."""
    return await close(s, intent_id, RELEASE, wait=True)


async def refund(s: Services, intent_id: str, *, why: str) -> Reply:
    """Give everything the contract holds for the intent back to its funder (`why`: "cancelled", "expired")."""
    log.info("escrow %s: refund (%s)", intent_id, why)
    return await close(s, intent_id, REFUND, wait=True)


def escrow_of(s: Services) -> EscrowChain:
    if s.escrow is None:
        raise UserError("Escrowed intents are not available on this chain: its Settlement holds no escrow.")
    return s.escrow


@dataclass(frozen=True)
class Begun:
    """What close() got to: the signed transaction stored (then sent), or a reply saying why nothing was."""

    intent: EscrowIntent
    signed: SignedTx | None = None
    reply: Reply | None = None


async def close(s: Services, intent_id: str, how: str, *, wait: bool) -> Reply:
    """For chat (/release, /cancel): the reply shows times in the creator's zone."""
    async with s.uow() as uow:
        intent = await uow.escrows.get(intent_id)
        zone = await zone_of(uow, intent.actor_ref) if intent is not None else _UTC
    begun = await begin(s, intent_id, how, zone=zone)
    if begun.signed is None:
        assert begun.reply is not None
        return begun.reply
    return await send(s, begun.intent, begun.signed, wait=wait, zone=zone)


async def begin(s: Services, intent_id: str, how: str, *, expired: bool = False, zone: ZoneInfo = _UTC) -> Begun:
    """Check the contract, then sign and store the release/refund under the row lock and commit (not yet sent).
    `expired`: a refund because the intent expired (when nothing is held, its creator is told so)."""
    escrow = escrow_of(s)
    intent = await _get(s, intent_id)
    try:
        state = await escrow.escrow(intent.intent_hash)
        floor = await s.chain.pending_nonce()
    except ChainUnavailable:
        return Begun(intent, reply=node_down(intent, how))
    async with s.uow() as uow:
        current = await uow.escrows.get(intent_id, for_update=True)
        assert current is not None
        now = s.clock.now()
        # The contract may know more than we do yet: a deposit just mined, or the funder's own refundExpired.
        notes = observe(s, current, state, now=now)
        if how == REFUND and current.status is EscrowStatus.AWAITING and state.status is OnChain.NONE:
            notes += cancel_unfunded(s, current, now, expired=expired)  # nothing held: nothing to sign or give back
        if notes or current.status is not intent.status or current.funded != intent.funded:
            await _store(uow, current, notes)
            await uow.commit()
            s.notify_soon()
        refusal = refusal_of(s, current, how, zone)
        if refusal is not None:
            return Begun(current, reply=refusal)
        nonce = await uow.nonces.reserve(s.chain.chain_id, s.chain.executor, floor)
        try:
            sign = escrow.sign_release if how == RELEASE else escrow.sign_refund
            signed = await sign(current.intent_hash, nonce)
        except ChainRejected as e:
            await uow.rollback()
            return Begun(current, reply=await _unsigned(s, intent_id, how, e.message))
        except ChainUnavailable:
            await uow.rollback()
            return Begun(current, reply=node_down(current, how))
        current.nonce, current.raw_tx, current.tx_hash = signed.nonce, signed.raw, signed.tx_hash
        current.submitted_at, current.error, current.note = now, None, None
        current.move(_MOVING[how], now)
        await uow.escrows.save(current)
        await uow.commit()
    return Begun(current, signed)


async def send(s: Services, intent: EscrowIntent, signed: SignedTx, *, wait: bool, zone: ZoneInfo = _UTC) -> Reply:
    """Broadcast the stored bytes; with `wait`, wait briefly for the receipt and record the outcome."""
    how = RELEASE if intent.status is EscrowStatus.RELEASING else REFUND
    try:
        await s.chain.broadcast(signed.raw)
    except ChainRejected as e:
        return detail(s, await note_waiting(s, intent.id, f"the node refused it for now: {e.message}"), WAITING, zone)
    except ChainUnavailable:
        return detail(s, await note_waiting(s, intent.id, "the chain node is not answering"), WAITING, zone)
    if not wait:
        return detail(s, intent, SENT_NOT_CONFIRMED, zone)
    try:
        receipt = await s.chain.wait_for_receipt(signed.tx_hash, s.policy.receipt_timeout)
        if receipt is not None:
            done = await conclude(s, intent.id, receipt)
            return detail(s, done, _headline(done, how), zone)
    except ChainUnavailable:
        pass  # it was sent; the watcher sees its log, or reconcile reads the receipt later
    return detail(s, intent, SENT_NOT_CONFIRMED, zone)


async def conclude(s: Services, intent_id: str, receipt: Receipt) -> EscrowIntent:
    """Record a mined release/refund: the contract's state decides (a reverted one may have lost to another that
    closed the intent; a successful one read from a node that lags stays open here until the node catches up)."""
    intent = await _get(s, intent_id)
    state = await escrow_of(s).escrow(intent.intent_hash)
    async with s.uow() as uow:
        current = await uow.escrows.get(intent_id, for_update=True)
        assert current is not None
        if current.status not in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING) or current.tx_hash != receipt.tx_hash:
            return current  # concluded meanwhile (the watcher saw the log), or replaced by another transaction
        now = s.clock.now()
        if state.status in _CLOSED:
            notes = observe(s, current, state, now=now, closing_tx=receipt.tx_hash if receipt.ok else None)
        elif not receipt.ok:
            reverted(current, receipt.reason or "the transaction reverted", now)
            notes = []
        else:
            return current  # mined, but the node we read still shows it open: look again later
        await _store(uow, current, notes)
        await uow.commit()
    s.notify_soon()
    return current


def reverted(intent: EscrowIntent, reason: str, now: datetime) -> None:
    """Our transaction was mined and reverted while the contract still holds the intent open: back to waiting,
    with the reason. The condition loop may try again later (after RETRY_AFTER)."""
    what = "release" if intent.status is EscrowStatus.RELEASING else "refund"
    intent.move(EscrowStatus.FUNDED if intent.fully_funded else EscrowStatus.AWAITING, now)
    intent.raw_tx, intent.error = None, f"the {what} transaction reverted: {reason}"


async def note_waiting(s: Services, intent_id: str, why: str) -> EscrowIntent:
    """Note why a signed release/refund is not on chain yet (/status shows it); reconcile sends it again."""
    async with s.uow() as uow:
        intent = await uow.escrows.get(intent_id, for_update=True)
        assert intent is not None
        if intent.status in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING):
            intent.error = why
            await uow.escrows.save(intent)
            await uow.commit()
    return intent


async def _unsigned(s: Services, intent_id: str, how: str, reason: str) -> Reply:
    """The contract would refuse it (simulated before signing): nothing signed; the reason is kept for /status,
    and its time holds off the condition loop's next try (RETRY_AFTER)."""
    async with s.uow() as uow:
        intent = await uow.escrows.get(intent_id, for_update=True)
        assert intent is not None
        intent.error, intent.updated_at = f"the chain would refuse the {how}: {reason}", s.clock.now()
        await uow.escrows.save(intent)
        await uow.commit()
    return Reply.error(f"The chain would refuse this {how}, so nothing was sent: {reason}.",
                       ("Intent ", code(intent.id), f" is {intent.status.value}, {funded_text(s, intent)}."))


def refusal_of(s: Services, intent: EscrowIntent, how: str, zone: ZoneInfo = _UTC) -> Reply | None:
    """Why this intent cannot be released (refunded) now, or None when it can."""
    status = intent.status
    if status is EscrowStatus.RELEASED:
        return detail(s, intent, f"Already released: paid to {short(intent.recipient)}; nothing was sent again.", zone, error=how == REFUND)
    if status is EscrowStatus.REFUNDED:
        return detail(s, intent, "Already refunded to its funder; nothing was sent again.", zone, error=how == RELEASE)
    if status is EscrowStatus.CANCELLED:
        return detail(s, intent, "Cancelled before anything was funded: nothing to send.", zone, error=how == RELEASE)
    if status in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING):
        moving = "released" if status is EscrowStatus.RELEASING else "refunded"
        return detail(s, intent, f"Already being {moving}: its transaction is signed and sent; nothing was signed again.", zone)
    if how == RELEASE and not intent.fully_funded:
        return detail(s, intent, f"Not fully funded yet ({funded_text(s, intent)}), so it cannot be released: "
                      f"/deposit {intent.id} gives the link for the rest.", zone, error=True)
    return None


def node_down(intent: EscrowIntent, how: str) -> Reply:
    return Reply.error("The chain node is not answering, so nothing was signed or sent.",
                       ("Intent ", code(intent.id), f" is unchanged: try the {how} again in a moment."))


def _headline(intent: EscrowIntent, how: str) -> str:
    if intent.status is EscrowStatus.RELEASED:
        return "Released: the recipient was paid."
    if intent.status is EscrowStatus.REFUNDED:
        return "Refunded: everything held went back to its funder."
    if intent.status in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING):
        return SENT_NOT_CONFIRMED
    return f"The {how} transaction failed on chain; nothing was paid. {intent.error or ''}".strip()


def detail(s: Services, intent: EscrowIntent, headline: str, zone: ZoneInfo = _UTC, *, error: bool = False) -> Reply:
    done = intent.status in (EscrowStatus.RELEASED, EscrowStatus.REFUNDED)
    return Reply.of(bold(headline), *detail_lines(s, intent, zone), kind="error" if error else "ok" if done else "info")


async def _get(s: Services, intent_id: str) -> EscrowIntent:
    async with s.uow() as uow:
        intent = await uow.escrows.get(intent_id)
    if intent is None:
        raise UserError(f"id: no intent {intent_id}", field="id")
    return intent


async def _store(uow: UnitOfWork, intent: EscrowIntent, notes: list[Notification]) -> None:
    await uow.escrows.save(intent)
    for n in notes:
        await uow.outbox.add(n)
