"""Paying claimed occurrences: alone as a treasury payment, or together (same owner and token) as one bulk batch.

Each occurrence's payment is created in the transaction that moves it from due to paying, under the schedules
lock, so it exists at most once: a lone one is an Intent whose key is the occurrence key (UNIQUE), rows of a batch
are paid by executeBatch under row ids the contract pays at most once. Limits and approvals apply as to any /pay.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from core.bulk import gate
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk
from core.bulk.settle import enqueue
from core.commands import Actor
from core.errors import NotAllowed, TransientError
from core.model import Intent, IntentStatus, Notification, NotificationType
from core.payments import approvals, limits, subjects
from core.payments.settle import settle
from core.ports import UnitOfWork
from core.replies import Reply, bold, code, dumps
from core.roles import Role, seeded_role
from core.schedules.model import Occurrence, OccurrenceStatus
from core.services import Payee, Services, log, new_id, new_intent_hash

LOCK = "schedules"
GROUP_LIMIT = 20_000  # due occurrences read per unit of work


@dataclass
class _Started:
    handled: int
    intents: list[tuple[Occurrence, str]] = field(default_factory=list)  # to settle after commit
    batch: tuple[str, list[Chunk]] | None = None  # (batch id, chunks) to enqueue after commit


class _Busy(Exception):
    """The owner's spend lock is held by another of their requests: try this group on the next pass."""


async def pay_due(s: Services) -> int:
    """Create the payments of due occurrences, one payment (a single intent or a batch) per transaction, then
    settle them. Returns how many occurrences it handled."""
    handled = 0
    for _ in range(1000):  # bounded: each round moves at least one occurrence out of "due"
        started = await _next(s)
        if started is None:
            break
        handled += started.handled
        await _settle(s, started)
    return handled


async def _next(s: Services) -> _Started | None:
    now = s.clock.now()
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            return None
        due = await uow.schedules.occurrences_with(OccurrenceStatus.DUE, GROUP_LIMIT)
        if not due:
            return None
        first = due[0]
        owner = await _owner(s, uow, first.owner_ref)
        if not owner.role or not owner.role.may_spend:
            return await _refuse(s, uow, [first], "its owner may no longer spend the treasury (not an operator now)", now)
        if first.template is not None:
            return await _template(s, uow, owner, first, now)
        group = [o for o in due if o.owner_ref == first.owner_ref and o.token == first.token and o.template is None
                 and not approvals.needs_approval(s, o.token, o.amount)]
        try:
            if len(group) > 1:
                return await _as_batch(s, uow, owner, group, now)
            return await _alone(s, uow, owner, first, now)
        except _Busy:
            return None


async def _owner(s: Services, uow: UnitOfWork, ref: str) -> Actor:
    """The owner as an Actor holding the role they have now (a role given in chat overrides the settings)."""
    platform, _, user_id = ref.partition(":")
    actor = Actor(platform, user_id)
    grant = await uow.roles.get(ref)
    role = Role.ADMIN if ref in s.policy.admins else grant.role if grant is not None else seeded_role(s, actor)
    return Actor(platform, user_id, role=role)


async def _over(s: Services, uow: UnitOfWork, owner: Actor, amounts: dict[str, int]) -> limits.Over | None:
    try:
        return await limits.over_daily(s, uow, owner, amounts)
    except NotAllowed:
        raise _Busy() from None


async def _alone(s: Services, uow: UnitOfWork, owner: Actor, occ: Occurrence, now: datetime) -> _Started:
    intent = Intent(id=new_id("pay"), key=occ.key, actor_ref=owner.ref, recipient=occ.recipient, token=occ.token,
                    amount=occ.amount, intent_hash=new_intent_hash(), created_at=now, updated_at=now,
                    recipient_ref=occ.recipient_ref, memo=f"schedule {occ.schedule_id}")
    over = await _over(s, uow, owner, {occ.token: occ.amount})
    waiting = over is not None or approvals.needs_approval(s, occ.token, occ.amount)
    if waiting:
        intent.needs_confirmation = True  # only the k-th approval signs it
        try:
            await approvals.request(s, uow, owner, subjects.of_intent(s, intent),
                                    approvals.ask_payment(s, intent, Payee(occ.recipient, occ.recipient_ref)), over)
        except NotAllowed as e:  # nobody could approve it (the request may have committed an alert already)
            return await _refuse_fresh(s, [occ], e.message, now)
    await uow.intents.add(intent)
    occ.status, occ.intent_id = (OccurrenceStatus.WAITING if waiting else OccurrenceStatus.PAYING), intent.id
    await uow.schedules.save_occurrences([occ])
    await uow.commit()
    if waiting:
        s.notify_soon()
        return _Started(1)
    return _Started(1, intents=[(occ, intent.id)])


async def _as_batch(s: Services, uow: UnitOfWork, owner: Actor, group: list[Occurrence], now: datetime) -> _Started:
    """Occurrences of one owner and token due together: one batch, paid in bulk-sized transactions."""
    token = group[0].token
    batch_id = new_id("bulk")
    rows = [BatchRow(batch_id, i, i + 1, o.recipient, o.token, o.amount, new_intent_hash(), memo=o.schedule_id)
            for i, o in enumerate(group)]
    digest = hashlib.sha256("\n".join(o.key for o in group).encode()).hexdigest()
    batch = Batch(id=batch_id, key=f"sch-{digest[:40]}", actor_ref=owner.ref,
                  filename=f"scheduled payments due {group[0].due_at:%Y-%m-%d %H:%M} UTC", content_hash=digest,
                  format="schedule", rows=len(rows), totals={token: sum(o.amount for o in group)},
                  created_at=now, updated_at=now)
    over = await _over(s, uow, owner, batch.totals)
    if over is not None:
        try:  # before anything is added: a refusal may commit its alert
            await approvals.request(s, uow, owner, subjects.of_batch(s, batch), gate.ask(s, batch, rows), over)
        except NotAllowed as e:
            return await _refuse_fresh(s, group, e.message, now)
    await uow.batches.add(batch, rows)
    chunks: list[Chunk] = []
    if over is not None:
        batch.move(BatchStatus.AWAITING, now)
        batch.started_at = now  # its rows count against the daily limit from now
        await uow.batches.save(batch)
    else:
        chunks = await gate.start(s, uow, batch, now)
    status = OccurrenceStatus.WAITING if over is not None else OccurrenceStatus.PAYING
    for o in group:
        o.status, o.batch_id = status, batch.id
    await uow.schedules.save_occurrences(group)
    await uow.commit()
    if over is not None:
        s.notify_soon()
        return _Started(len(group))
    return _Started(len(group), batch=(batch.id, chunks))


async def _template(s: Services, uow: UnitOfWork, owner: Actor, occ: Occurrence, now: datetime) -> _Started:
    """A scheduled template (/bulk run payroll every month on the 25th): core.bulk.templates runs it."""
    # Imported here: core.bulk.templates schedules templates through core.schedules, which imports this module.
    from core.bulk.templates import run_template

    if occ.template is None:  # only template schedules come here (the caller checked); a row without one is refused
        return await _refuse(s, uow, [occ], "this schedule names no payout template", now)
    occ.status = OccurrenceStatus.PAYING
    await uow.schedules.save_occurrences([occ])
    await uow.commit()  # claimed first: run_template's key (the occurrence key) makes a rerun answer from the first
    reply: Reply = await run_template(s, owner.ref, occ.template, occ.key)
    await _tell(s, occ, reply, now)
    return _Started(1)


async def _refuse(s: Services, uow: UnitOfWork, occs: list[Occurrence], why: str, now: datetime) -> _Started:
    for o in occs:
        o.status, o.note = OccurrenceStatus.REFUSED, why[:500]
        await uow.outbox.add(_result(o, Reply.of((bold("Not paid"), f": {why}"),), now))
    await uow.schedules.save_occurrences(occs)
    await uow.commit()
    s.notify_soon()
    return _Started(len(occs))


async def _refuse_fresh(s: Services, occs: list[Occurrence], why: str, now: datetime) -> _Started:
    async with s.uow() as uow:
        return await _refuse(s, uow, occs, why, now)


def _result(occ: Occurrence, reply: Reply, now: datetime) -> Notification:
    head = Reply.of((bold("Scheduled payment"), " ", code(occ.schedule_id), f" due {occ.due_at:%Y-%m-%d %H:%M} UTC"))
    body = Reply(head.lines + reply.lines, reply.buttons, private=True)
    return Notification(f"{occ.key}:result", occ.owner_ref, NotificationType.SCHEDULE_RESULT, dumps(body), now)


async def _tell(s: Services, occ: Occurrence, reply: Reply, now: datetime) -> None:
    async with s.uow() as uow:
        await uow.outbox.add(_result(occ, reply, now))
        await uow.commit()
    s.notify_soon()


async def _settle(s: Services, started: _Started) -> None:
    """After commit: sign and send. A single payment's outcome reaches its owner as any payment's does (sent or
    failed); one left pending (the node is away) or refused before signing gets a DM saying so."""
    if started.batch is not None:
        batch_id, chunks = started.batch
        enqueue(s, batch_id, chunks)
    if not started.intents:
        return
    replies = await asyncio.gather(*(settle(s, intent_id) for _, intent_id in started.intents), return_exceptions=True)
    for (occ, intent_id), reply in zip(started.intents, replies):
        if isinstance(reply, BaseException):
            if not isinstance(reply, TransientError):
                log.error("scheduled payment %s (%s) failed to settle", intent_id, occ.key, exc_info=reply)
            continue  # it is stored: reconcile (or /confirm) takes it from here
        async with s.uow() as uow:
            intent = await uow.intents.get(intent_id)
        if intent is not None and intent.status in (IntentStatus.PENDING, IntentStatus.FAILED) and intent.tx_hash is None:
            await _tell(s, occ, reply, s.clock.now())
