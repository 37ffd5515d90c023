"""Reconciling open treasury payments: every signed-but-unsettled one is recorded, re-sent or replaced.

Runs after a restart and periodically, under one lock per executor account shared by every process on the
database, so two processes never replace the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import ChainRejected, ChainUnavailable
from core.model import Attempt, Intent, IntentStatus
from core.payments import pending
from core.payments.settle import apply_outcome, attempt_of, note_waiting, observe, order_of
from core.ports import UnitOfWork
from core.services import Services, log


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
            await apply_outcome(s, uow, current, outcome)
            await uow.commit()
            s.notify_soon()
            return 1
        now = s.clock.now()
        age = now - (current.submitted_at or current.updated_at)
        noticed = await pending.queue_notice(s, uow, current, attempts, now)  # committed below, with the rest
        if age > s.policy.stuck_after and current.nonce is not None:
            bump = (max(a.bump for a in attempts) if attempts else 0) + max(1, int(age / s.policy.stuck_after))
            send = await _replace(s, uow, current, bump, now)
        else:
            send = current.raw_tx
            if noticed:
                await uow.commit()
    if noticed:
        s.notify_soon()
    if send:
        try:
            await s.chain.broadcast(send)
        except ChainRejected as e:
            log.warning("reconcile: the node refused %s again (%s); will retry", intent.id, e.message)
            await note_waiting(s, intent.id, f"the node refused it for now: {e.message}")
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
    await uow.intents.add_attempt(attempt_of(intent.id, signed, bump, now))
    await uow.commit()
    log.info("replaced stuck transaction of %s (nonce %s, bump %s)", intent.id, intent.nonce, bump)
    return signed.raw
