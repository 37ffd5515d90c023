"""What waits for approvers: /pending, and the sweep that expires old requests and sends orphaned approved ones."""

from __future__ import annotations

from datetime import timedelta

from core.commands import Pending
from core.model import ApprovalStatus
from core.payments.approvals import approver_role, expire, tell_outcome
from core.payments.subjects import load, proceed
from core.replies import Reply, Span, bold, code
from core.services import Services, log
from core.views import counted

# An approved subject still waiting this long after its k-th approval was not sent by its approver (the process
# died in between): the sweep sends it, through the same exactly-once path.
_ORPHANED_AFTER = timedelta(seconds=30)


async def pending(s: Services, cmd: Pending) -> Reply:
    role = await approver_role(s, cmd.actor)
    now = s.clock.now()
    lines: list[tuple[str | Span, ...]] = []
    async with s.uow() as uow:
        for req in await uow.approvals.with_status(ApprovalStatus.WAITING):
            mine = req.requester_ref == cmd.actor.ref
            if req.expires_at <= now or not (mine or role.may_approve):
                continue
            subject = await load(s, uow, req.intent_id)
            if subject is None:
                continue
            votes = await uow.approvals.votes(req.intent_id)
            approvals = sum(v.approve for v in votes)
            note = " — yours" if mine else " — you approved" if any(v.approver_ref == cmd.actor.ref for v in votes) else ""
            to: tuple[str | Span, ...] = (" to ", code(subject.intent.recipient)) if subject.intent else \
                (f" ({subject.batch.filename})",) if subject.batch else ()
            lines.append((code(subject.id), f" {subject.amount}", *to,
                          f" by {req.requester_ref}: {approvals} of {req.required}, expires "
                          f"{req.expires_at:%Y-%m-%d %H:%M} UTC{note}"))
    if not lines:
        return Reply.of("Nothing is waiting for approval.", private=True)
    head = f"{counted(len(lines), 'request')} waiting for approval" + (" (/approve <id> or /reject <id> [reason]):"
                                                                       if role.may_approve else ":")
    return Reply.of((bold(head),), *lines, private=True)


async def sweep(s: Services) -> int:
    """Expire requests past their TTL (the requester is told) and send approved subjects whose approver's process
    died before sending them. Returns how many requests it moved."""
    now = s.clock.now()
    moved = 0
    async with s.uow() as uow:
        waiting = await uow.approvals.with_status(ApprovalStatus.WAITING)
        approved = await uow.approvals.with_status(ApprovalStatus.APPROVED)
    for req in waiting:
        if req.expires_at > now:
            continue
        async with s.uow() as uow:
            subject = await load(s, uow, req.intent_id, for_update=True)
            fresh = await uow.approvals.get(req.intent_id)
            if subject is None or fresh is None or fresh.status is not ApprovalStatus.WAITING:
                continue
            if subject.waiting:
                await expire(s, uow, subject, fresh, now)
                await uow.commit()
                moved += 1
    for req in approved:
        if req.decided_at is None or now - req.decided_at < _ORPHANED_AFTER:
            continue
        async with s.uow() as uow:
            subject = await load(s, uow, req.intent_id)
            voters = [v.approver_ref for v in await uow.approvals.votes(req.intent_id) if v.approve]
        if subject is not None and subject.waiting:
            log.warning("approved %s %s was not sent by its approver; sending it now", subject.noun, req.intent_id)
            await proceed(s, req.intent_id)
            await tell_outcome(s, req.intent_id, req, voters, "")
            moved += 1
    if moved:
        s.notify_soon()
    return moved
