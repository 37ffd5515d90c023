"""M-of-N approvals of payments above APPROVAL_THRESHOLD: the request, /approve, /reject, /pending and expiry.

A payment above the threshold is stored pending (nothing signed) with an ApprovalRequest, and every approver is
asked by DM (outbox, with Approve / Reject buttons). Decisions are taken under the intent's row lock, so:
- each approver counts once (a UNIQUE (intent, approver) in the database makes that true across processes);
- the k-th approval marks the request approved in the same transaction, and only that approver signs (through
  the ordinary exactly-once settle); a /cancel racing it is serialised by the same lock and then refused;
- a request past its TTL is expired when acted on, and by sweep() (reconcile) so the requester hears of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.alerts import alert_admins, security_alert
from core.commands import Actor, Approve, Pending, Reject
from core.errors import NotAllowed, UserError
from core.model import ApprovalRequest, ApprovalStatus, Intent, IntentStatus, Notification, NotificationType, ProcessedKey, Vote
from core.money import format_units
from core.payments.allowance import check_allowance
from core.payments.settle import settle
from core.ports import UnitOfWork
from core.replies import Button, Reply, Span, bold, code, dumps
from core.roles import Role, role_of, seeded_role
from core.services import Payee, Services, log
from core.views import amount_text, counted

# An approved payment still pending this long after its k-th approval was not signed by its approver (the process
# died in between): the sweep signs it, through the same exactly-once path.
_ORPHANED_AFTER = timedelta(seconds=30)


def needs_approval(s: Services, token: str, units: int) -> bool:
    """Strictly above APPROVAL_THRESHOLD for this token (a token not listed never needs approval)."""
    threshold = s.policy.approval_threshold.get(token)
    return threshold is not None and units > threshold


def _a(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def _who(actor: Actor) -> str:
    return f"@{actor.handle} ({actor.ref})" if actor.handle else actor.ref


def _ttl_text(ttl: timedelta) -> str:
    hours, rest = divmod(int(ttl.total_seconds()), 3600)
    return counted(hours, "hour") if hours and not rest else counted(int(ttl.total_seconds() // 60), "minute")


async def approvers_for(s: Services, uow: UnitOfWork, requester_ref: str) -> list[str]:
    """Everyone who may approve (approvers and admins, from the settings or chat) except the requester."""
    grants = {g.user_ref: g.role for g in await uow.roles.all()}
    out = []
    for ref in sorted(set(s.policy.admins) | set(s.policy.approvers) | set(grants)):
        platform, _, user_id = ref.partition(":")
        role = Role.ADMIN if ref in s.policy.admins else grants.get(ref) or seeded_role(s, Actor(platform, user_id))
        if role.may_approve and ref != requester_ref:
            out.append(ref)
    return out


# ------------------------------------------------------------------ the request
async def request(s: Services, actor: Actor, intent: Intent, payee: Payee, record: ProcessedKey) -> Reply:
    """Store the payment (a /pay, or a /mix deposit from the treasury) pending, under the command's key `record`,
    with its approval request, and ask every approver: all in one transaction."""
    required = s.policy.approvals_required
    token = s.token(intent.token)
    limit = format_units(s.policy.approval_threshold[intent.token], token.decimals)
    now = s.clock.now()
    intent.needs_confirmation = True  # never settled by a retry path: only the k-th approval signs it
    req = ApprovalRequest(intent.id, actor.ref, required, now, now + s.policy.approval_ttl)
    what = "Deposit" if intent.mixer_commitment else "Payment"
    async with s.uow() as uow:
        approvers = await approvers_for(s, uow, actor.ref)
        if len(approvers) < required:
            raise NotAllowed(
                f"This {what.lower()} is above the approval threshold ({limit} {token.symbol}) and needs {required} approvers "
                f"besides you, but {counted(len(approvers), 'person', 'people')} may approve. Nothing was stored. An admin "
                "gives the role with /role @user approver."
            )
        await uow.intents.add(intent)
        await uow.keys.add(record)
        await uow.approvals.add(req)
        ask = _ask(s, intent, payee, actor, req)
        for ref in approvers:
            await uow.outbox.add(Notification(f"approval:{intent.id}:{ref}", ref, NotificationType.APPROVAL_REQUEST,
                                              dumps(ask), now))
        await uow.commit()
    s.notify_soon()
    to = payee.who if payee.named else intent.recipient
    return Reply.of(
        (bold(f"{what} {intent.id} awaiting approval (0 of {required})"),),
        ("Amount: ", bold(amount_text(s.chain, intent)), f" (above the approval threshold of {limit} {token.symbol})"),
        ("To: ", code(to)) if not payee.named else ("To: ", bold(to), " at ", code(intent.recipient)),
        f"Nothing is signed until {counted(required, 'approver')} approve; {counted(len(approvers), 'approver')} "
        f"asked. It expires in {_ttl_text(s.policy.approval_ttl)} ({req.expires_at:%Y-%m-%d %H:%M} UTC).",
        buttons=(Button("Cancel", f"/cancel {intent.id}", "danger"),),
    )


def _ask(s: Services, intent: Intent, payee: Payee, requester: Actor, req: ApprovalRequest) -> Reply:
    identity = f" ({payee.who})" if payee.named else f" ({payee.ref})" if payee.ref else " (no SnowRail account)"
    if intent.mixer_commitment:
        identity = " (the privacy pool: a deposit from the treasury; the note stays with the requester)"
    return Reply.of(
        (bold("Approval needed"), f": {'deposit' if intent.mixer_commitment else 'payment'} ", code(intent.id)),
        ("Amount: ", bold(amount_text(s.chain, intent))),
        ("To: ", code(intent.recipient), identity),
        f"Requested by: {_who(requester)}",
        f"Needs {req.required} approvals; expires {req.expires_at:%Y-%m-%d %H:%M} UTC.",
        buttons=(Button("Approve", f"/approve {intent.id}", "primary"), Button("Reject", f"/reject {intent.id}", "danger")),
        private=True,
    )


# ------------------------------------------------------------------ decisions
async def _approver_role(s: Services, actor: Actor) -> Role:
    return actor.role if actor.role is not None else await role_of(s, actor)


async def _load(s: Services, ref: str) -> tuple[Intent, ApprovalRequest]:
    async with s.uow() as uow:
        intent = await uow.intents.get(ref)
        req = await uow.approvals.get(ref)
    if intent is None or req is None:
        raise UserError(f"id: no payment {ref} waits for approval; /pending lists those that do.", field="id")
    return intent, req


def _closed(req: ApprovalRequest, intent: Intent, approvals: int) -> str | None:
    """Why nobody can decide on this request any more, or None while it waits."""
    if req.status is ApprovalStatus.WAITING and intent.status is IntentStatus.PENDING:
        return None
    if req.status is ApprovalStatus.APPROVED:
        return f"{intent.id} is already approved ({approvals} of {req.required}) and {intent.status.value}; nothing changed."
    if req.status is ApprovalStatus.REJECTED:
        return f"{intent.id} was rejected by {req.decided_by}; nothing was paid and nothing changed."
    if req.status is ApprovalStatus.EXPIRED:
        return f"{intent.id} expired at {req.expires_at:%Y-%m-%d %H:%M} UTC without enough approvals; nothing was paid."
    return f"{intent.id} was cancelled by its requester; nothing was paid and nothing changed."


async def _check_may_decide(s: Services, actor: Actor, req: ApprovalRequest, verb: str) -> None:
    role = await _approver_role(s, actor)
    if actor.ref == req.requester_ref:
        own = "approve your own payment: another approver has to" if verb == "approve" else \
            f"reject your own payment; /cancel {req.intent_id} withdraws it"
        raise NotAllowed(f"You cannot {own}. Nothing changed.")
    if not role.may_approve:
        raise NotAllowed(f"Only approvers and admins can {verb} payments; you are {_a(role)}. Nothing changed.")


async def _expire(s: Services, uow: UnitOfWork, intent: Intent, req: ApprovalRequest, now: datetime) -> None:
    approvals = sum(v.approve for v in await uow.approvals.votes(intent.id))
    req.status, req.decided_at, req.decided_by = ApprovalStatus.EXPIRED, now, "expiry"
    intent.move(IntentStatus.CANCELLED, now)
    await uow.approvals.save(req)
    await uow.intents.save(intent)
    body = Reply.of(f"Payment {intent.id} of {amount_text(s.chain, intent)} expired with {approvals} of "
                    f"{req.required} approvals; nothing was paid. Send /pay again if it is still due.", kind="error")
    await uow.outbox.add(Notification(f"approval:{intent.id}:expired", req.requester_ref,
                                      NotificationType.APPROVAL_OUTCOME, dumps(body), now))
    await alert_admins(uow, s, f"alert:approval-expired:{intent.id}", security_alert(
        "approval request expired", f"Payment {intent.id} of {amount_text(s.chain, intent)} requested by "
        f"{req.requester_ref} got {approvals} of {req.required} approvals in time; nothing was paid."))


async def approve(s: Services, cmd: Approve) -> Reply:
    intent, req = await _load(s, cmd.ref)
    await _check_may_decide(s, cmd.actor, req, "approve")
    now = s.clock.now()
    async with s.uow() as uow:
        votes = await uow.approvals.votes(intent.id)
    if req.status is ApprovalStatus.WAITING and now < req.expires_at and sum(v.approve for v in votes) + 1 >= req.required:
        # The last approval signs: refuse it before storing anything if the on-chain allowance would not cover it.
        await check_allowance(s, s.token(intent.token), intent.amount)
    async with s.uow() as uow:
        intent, req, votes = await _still_open(s, uow, intent, req, now, "approve")
        if not await uow.approvals.vote(Vote(intent.id, cmd.actor.ref, True, now)):
            mine = next(v for v in votes if v.approver_ref == cmd.actor.ref)
            did = "approved" if mine.approve else "rejected"
            raise NotAllowed(f"You already {did} {intent.id} ({mine.at:%Y-%m-%d %H:%M} UTC); nothing changed.")
        approvers = [v.approver_ref for v in votes if v.approve] + [cmd.actor.ref]
        count = len(approvers)
        if count >= req.required:
            req.status, req.decided_at, req.decided_by = ApprovalStatus.APPROVED, now, cmd.actor.ref
            await uow.approvals.save(req)
        else:
            body = Reply.of(f"{_who(cmd.actor)} approved payment {intent.id} ({count} of {req.required}).")
            await uow.outbox.add(Notification(f"approval:{intent.id}:vote:{cmd.actor.ref}", req.requester_ref,
                                              NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await uow.commit()
    if count < req.required:
        s.notify_soon()
        return Reply.of(f"Approved: payment {intent.id} has {count} of {req.required} approvals. Nothing is signed "
                        "until the last one.", kind="ok")
    paid = await settle(s, intent.id)
    await _tell_outcome(s, intent.id, req, approvers, cmd.actor.ref)
    head = (bold(f"Approved ({count} of {req.required}): payment {intent.id} went to signing."),)
    return Reply((tuple(_span(p) for p in head),) + paid.lines, paid.buttons, paid.files, paid.private, paid.kind)


def _span(p: str | Span) -> Span:
    return p if isinstance(p, Span) else Span(p)


async def _tell_outcome(s: Services, intent_id: str, req: ApprovalRequest, approvers: list[str], actor_ref: str) -> None:
    """The requester and the other approvers hear what became of the approved payment (the actor has the reply)."""
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id)
        assert intent is not None
        what = {
            IntentStatus.CONFIRMED: "paid, confirmed on chain",
            IntentStatus.SUBMITTED: "signed and sent; not confirmed yet",
            IntentStatus.FAILED: f"failed: {intent.error}",
        }.get(intent.status, f"not signed yet ({intent.error or 'the chain node did not answer'}); it is retried")
        body = Reply.of(f"Payment {intent.id} of {amount_text(s.chain, intent)} was approved by "
                        f"{', '.join(approvers)}: {what}.", kind="error" if intent.status is IntentStatus.FAILED else "ok")
        now = s.clock.now()
        if intent.status in (IntentStatus.SUBMITTED, IntentStatus.CONFIRMED):
            await alert_admins(uow, s, f"alert:approved-sent:{intent.id}", security_alert(
                "payment above the approval threshold sent", f"Payment {intent.id} of {amount_text(s.chain, intent)} "
                f"to {intent.recipient}, requested by {req.requester_ref}, approved by {', '.join(approvers)}."))
        for ref in dict.fromkeys([req.requester_ref, *approvers]):
            if ref != actor_ref:
                await uow.outbox.add(Notification(f"approval:{intent.id}:outcome:{ref}", ref,
                                                  NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await uow.commit()
    s.notify_soon()


async def reject(s: Services, cmd: Reject) -> Reply:
    intent, req = await _load(s, cmd.ref)
    await _check_may_decide(s, cmd.actor, req, "reject")
    now = s.clock.now()
    why = cmd.reason or "no reason given"
    async with s.uow() as uow:
        intent, req, votes = await _still_open(s, uow, intent, req, now, "reject")
        if not await uow.approvals.vote(Vote(intent.id, cmd.actor.ref, False, now, cmd.reason)):
            raise NotAllowed(f"You already approved {intent.id}; an approval cannot be taken back. Nothing changed.")
        req.status, req.decided_at, req.decided_by, req.reason = ApprovalStatus.REJECTED, now, cmd.actor.ref, cmd.reason
        intent.move(IntentStatus.CANCELLED, now)
        await uow.approvals.save(req)
        await uow.intents.save(intent)
        body = Reply.of(f"Payment {intent.id} of {amount_text(s.chain, intent)} was rejected by {_who(cmd.actor)}: "
                        f"{why}. Nothing was paid.", kind="error")
        for ref in dict.fromkeys([req.requester_ref, *(v.approver_ref for v in votes)]):
            await uow.outbox.add(Notification(f"approval:{intent.id}:rejected:{ref}", ref,
                                              NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await alert_admins(uow, s, f"alert:approval-rejected:{intent.id}", security_alert(
            "payment rejected", f"{_who(cmd.actor)} rejected payment {intent.id} of {amount_text(s.chain, intent)} "
            f"requested by {req.requester_ref}: {why}."))
        await uow.commit()
    s.notify_soon()
    return Reply.of(f"Rejected: payment {intent.id} is cancelled and nothing was paid. The requester has been told.",
                    kind="ok")


# ------------------------------------------------------------------ listing and sweeping
async def pending(s: Services, cmd: Pending) -> Reply:
    role = await _approver_role(s, cmd.actor)
    now = s.clock.now()
    lines: list[tuple[str | Span, ...]] = []
    async with s.uow() as uow:
        for req in await uow.approvals.with_status(ApprovalStatus.WAITING):
            mine = req.requester_ref == cmd.actor.ref
            if req.expires_at <= now or not (mine or role.may_approve):
                continue
            intent = await uow.intents.get(req.intent_id)
            if intent is None:
                continue
            votes = await uow.approvals.votes(req.intent_id)
            approvals = sum(v.approve for v in votes)
            note = " — yours" if mine else " — you approved" if any(v.approver_ref == cmd.actor.ref for v in votes) else ""
            lines.append((code(intent.id), f" {amount_text(s.chain, intent)} to ", code(intent.recipient),
                          f" by {req.requester_ref}: {approvals} of {req.required}, expires "
                          f"{req.expires_at:%Y-%m-%d %H:%M} UTC{note}"))
    if not lines:
        return Reply.of("Nothing is waiting for approval.", private=True)
    head = f"{counted(len(lines), 'payment')} waiting for approval" + (" (/approve <id> or /reject <id> [reason]):"
                                                                       if role.may_approve else ":")
    return Reply.of((bold(head),), *lines, private=True)


async def sweep(s: Services) -> int:
    """Expire requests past their TTL (the requester is told) and sign approved payments whose approver's process
    died before signing. Returns how many requests it moved."""
    now = s.clock.now()
    moved = 0
    async with s.uow() as uow:
        waiting = await uow.approvals.with_status(ApprovalStatus.WAITING)
        approved = await uow.approvals.with_status(ApprovalStatus.APPROVED)
    for req in waiting:
        if req.expires_at > now:
            continue
        async with s.uow() as uow:
            intent = await uow.intents.get(req.intent_id, for_update=True)
            fresh = await uow.approvals.get(req.intent_id)
            if intent is None or fresh is None or fresh.status is not ApprovalStatus.WAITING:
                continue
            if intent.status is IntentStatus.PENDING:
                await _expire(s, uow, intent, fresh, now)
                await uow.commit()
                moved += 1
    for req in approved:
        if req.decided_at is None or now - req.decided_at < _ORPHANED_AFTER:
            continue
        async with s.uow() as uow:
            intent = await uow.intents.get(req.intent_id)
            voters = [v.approver_ref for v in await uow.approvals.votes(req.intent_id) if v.approve]
        if intent is not None and intent.status is IntentStatus.PENDING:
            log.warning("approved payment %s was not signed by its approver; signing it now", req.intent_id)
            await settle(s, req.intent_id)
            await _tell_outcome(s, req.intent_id, req, voters, "")
            moved += 1
    if moved:
        s.notify_soon()
    return moved


async def hold_on(uow: UnitOfWork, intent: Intent, *, cancelling: bool) -> str | None:
    """Why /confirm or /cancel may not touch this intent because of its approval request (call with the intent's
    row lock held); None when they may. A /cancel withdraws a waiting request (and the caller commits)."""
    req = await uow.approvals.get(intent.id)
    if req is None or intent.status is not IntentStatus.PENDING:
        return None
    if req.status is ApprovalStatus.APPROVED:
        return None if not cancelling else "it is approved and being signed; it cannot be called back"
    if req.status is ApprovalStatus.WAITING:
        if cancelling:
            req.status = ApprovalStatus.CANCELLED
            await uow.approvals.save(req)
            return None
        approvals = sum(v.approve for v in await uow.approvals.votes(intent.id))
        return f"it is awaiting approval ({approvals} of {req.required}); it is signed when approved"
    return None


async def _still_open(s: Services, uow: UnitOfWork, intent: Intent, req: ApprovalRequest, now: datetime,
                      verb: str) -> tuple[Intent, ApprovalRequest, list[Vote]]:
    """Re-read the request under the intent's row lock (which serialises deciders and /cancel); expire it if
    its time is up; refuse (NotAllowed, after committing an expiry) when it can no longer be decided."""
    intent = await uow.intents.get(intent.id, for_update=True) or intent
    req = await uow.approvals.get(intent.id) or req
    votes = await uow.approvals.votes(intent.id)
    closed = _closed(req, intent, sum(v.approve for v in votes))
    if closed is None and now >= req.expires_at:
        await _expire(s, uow, intent, req, now)
        await uow.commit()
        s.notify_soon()
        closed = _closed(req, intent, 0)
    if closed is not None:
        raise NotAllowed(f"Too late to {verb}: {closed}")
    return intent, req, votes
