"""Finishing every signed escrow release or refund: after a restart, a lost broadcast or a stuck transaction.

Runs with Engine.reconcile (at start and periodically); each decision is taken under one database lock shared by
every process, and under the intent's row lock. For each
RELEASING/REFUNDING intent the contract is asked first: closed -> recorded (whoever closed it); our transaction
mined and reverted while it is still open -> back to waiting with the reason; our nonce taken by another
transaction while it is still open -> signed again with a new nonce (the contract closes an intent at most once, so
a second signature can never pay twice); otherwise the same bytes are sent again, or replaced with a higher fee
once stuck. A transaction waiting longer than TX_PENDING_NOTICE_SECONDS tells its creator once.
"""

from __future__ import annotations

from core.errors import ChainRejected, ChainUnavailable
from core.escrow import notices
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.ports import OnChain
from core.escrow.record import observe
from core.escrow.settle import escrow_of, note_waiting, reverted
from core.model import Notification, Receipt
from core.ports import UnitOfWork
from core.services import Services, log

LOCK = "escrow-reconcile"  # taken by each decision (as core.payments.reconcile does), not across chain calls


class _Busy(Exception):
    """Another process holds the reconcile lock."""
_MOVING = [EscrowStatus.RELEASING, EscrowStatus.REFUNDING]


async def reconcile(s: Services) -> int:
    """Bring every signed-but-unsettled release/refund to a conclusion, or nearer one. Returns how many closed."""
    if s.escrow is None:
        return 0
    async with s.uow() as uow:
        moving = await uow.escrows.with_status(_MOVING)
    if not moving:
        return 0
    closed = 0
    try:
        mined_next = await s.chain.mined_nonce()  # before any receipt is read: see core.payments.settle.observe
        for intent in moving:
            try:
                closed += await _one(s, intent, mined_next)
            except ChainRejected as e:
                log.warning("escrow reconcile: %s: %s", intent.id, e.message)
    except ChainUnavailable:
        log.warning("escrow reconcile: chain unavailable; will try again")
    except _Busy:
        log.info("escrow reconcile: another process is reconciling; leaving it to it")
    return closed


async def _one(s: Services, seen: EscrowIntent, mined_next: int) -> int:
    escrow = escrow_of(s)
    state = await escrow.escrow(seen.intent_hash)  # the contract first: it is the authority on closing
    receipt = await s.chain.receipt(seen.tx_hash) if seen.tx_hash else None
    stuck = receipt is None and seen.tx_hash is not None and await s.chain.stuck(seen.tx_hash)
    floor = await s.chain.pending_nonce()
    send: bytes | None = None
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            raise _Busy()
        intent = await uow.escrows.get(seen.id, for_update=True)
        if intent is None or intent.status not in _MOVING or intent.tx_hash != seen.tx_hash:
            return 0  # concluded or re-signed meanwhile: the next pass looks again
        now = s.clock.now()
        notes: list[Notification] = []
        waited = now - (intent.submitted_at or intent.updated_at)
        if waited > s.policy.tx_pending_notice and state.status is OnChain.OPEN:
            notes.append(notices.pending(s, intent, waited.total_seconds(), now))
        if state.status in (OnChain.RELEASED, OnChain.REFUNDED):
            notes += observe(s, intent, state, now=now, closing_tx=_closing(receipt))
        elif receipt is not None and not receipt.ok and state.status is OnChain.OPEN:
            reverted(intent, receipt.reason or "the transaction reverted", now)
        elif receipt is not None:
            return 0  # mined, but the node still shows the intent open (it lags): look again next pass
        elif intent.nonce is not None and intent.nonce < mined_next and state.status is OnChain.OPEN:
            try:
                send = await _resign(s, uow, intent, floor, bump=0, new_nonce=True)
            except ChainRejected as e:
                await uow.rollback()  # the nonce reserved for it must not stay taken by nothing
                await note_waiting(s, seen.id, f"could not sign it again: {e.message}")
                return 0
        elif stuck and waited > s.policy.stuck_after:
            send = await _resign(s, uow, intent, floor, bump=max(1, int(waited / s.policy.stuck_after)), new_nonce=False)
        else:
            send = intent.raw_tx
        await uow.escrows.save(intent)
        for n in notes:
            await uow.outbox.add(n)
        await uow.commit()
    if notes:
        s.notify_soon()
    if send:
        try:
            await s.chain.broadcast(send)
        except ChainRejected as e:
            log.warning("escrow reconcile: the node refused %s again (%s); will retry", seen.id, e.message)
            await note_waiting(s, seen.id, f"the node refused it for now: {e.message}")
    return 1 if intent.status in (EscrowStatus.RELEASED, EscrowStatus.REFUNDED) else 0


def _closing(receipt: Receipt | None) -> str | None:
    return receipt.tx_hash if receipt is not None and receipt.ok else None


async def _resign(s: Services, uow: UnitOfWork, intent: EscrowIntent, floor: int, *, bump: int,
                  new_nonce: bool) -> bytes | None:
    """Sign the same release/refund again and store it (the caller commits, then sends): with a new nonce when
    another transaction used ours, or with the same nonce and a higher fee when ours is stuck."""
    escrow = escrow_of(s)
    nonce = await uow.nonces.reserve(s.chain.chain_id, s.chain.executor, floor) if new_nonce else intent.nonce
    assert nonce is not None
    sign = escrow.sign_release if intent.status is EscrowStatus.RELEASING else escrow.sign_refund
    try:
        signed = await sign(intent.intent_hash, nonce, bump=bump)
    except ChainRejected as e:
        if new_nonce:
            raise
        # The contract would refuse it now (closed by a transaction the node has not shown us yet, say): the
        # stored one stays as it is, is sent again, and the next pass asks the contract again.
        intent.error = f"its fee could not be raised: {e.message}"
        return intent.raw_tx
    what = "a new nonce" if new_nonce else f"a higher fee (step {bump})"
    log.info("escrow %s: signed again with %s (was %s)", intent.id, what, intent.tx_hash)
    intent.nonce, intent.raw_tx, intent.tx_hash = signed.nonce, signed.raw, signed.tx_hash
    intent.submitted_at, intent.error = s.clock.now(), None
    return signed.raw
