"""M-of-N approvals: the request, /approve, /reject, and expiry (listing and sweeping: core.payments.waiting).

A payment, treasury mixer deposit or bulk batch above APPROVAL_THRESHOLD (or above its requester's daily limit,
core.payments.limits) is stored without anything signed (a pending intent, a batch awaiting approval) with an
ApprovalRequest, and every approver is asked by DM (outbox, with Approve / Reject buttons). Decisions are taken
under the subject's row lock (core.payments.subjects), so:
- each approver counts once (a UNIQUE (request, approver) in the database makes that true across processes);
- the k-th approval marks the request approved in the same transaction, and only that approver sends it (the
  ordinary exactly-once settle, or the batch's workers); a cancel racing it is serialised by the same lock;
- a request past its TTL is expired when acted on, and by the sweep (reconcile) so the requester hears of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.alerts import alert_admins, security_alert
from core.commands import Actor, Approve, Reject
from core.errors import NotAllowed, UserError
from core.model import ApprovalRequest, ApprovalStatus, Intent, IntentStatus, Notification, NotificationType, Vote
from core.money import format_units
from core.payments.limits import Over
from core.payments.subjects import Subject, call_off, check_covered, load, of_intent, outcome, payee_line, proceed
from core.ports import UnitOfWork
from core.replies import Button, Reply, Span, bold, code, dumps
from core.roles import Role, role_of, seeded_role
from core.services import Payee, Services
from core.views import counted


def needs_approval(s: Services, token: str, units: int) -> bool:
    """Strictly above APPROVAL_THRESHOLD for this token (a token not listed never needs approval)."""
    threshold = s.policy.approval_threshold.get(token)
    return threshold is not None and units > threshold


def a_role(role: Role) -> str:
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def who(actor: Actor) -> str:
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
async def request(s: Services, uow: UnitOfWork, actor: Actor, subject: Subject, ask: Reply,
                  over: Over | None = None) -> Reply:
    """In the caller's unit of work (which stored the payment or moved the batch to awaiting, and commits after):
    the approval request, and a DM with `ask`'s details and Approve / Reject buttons to every approver. Refuses
    (NotAllowed; the caller's transaction rolls back, so nothing is stored) when fewer people may approve than
    are required. `over`: the requester's daily limit is why it waits (else the threshold is)."""
    required = s.policy.approvals_required
    now = s.clock.now()
    req = ApprovalRequest(subject.id, actor.ref, required, now, now + s.policy.approval_ttl)
    approvers = await approvers_for(s, uow, actor.ref)
    why = f"It is above your daily limit: {over.text}." if over is not None else \
        f"It is above the approval threshold ({_thresholds(s, subject)})."
    if len(approvers) < required:
        if over is not None:
            await alert_admins(uow, s, f"alert:daily-limit:{subject.id}", security_alert(
                "daily limit hit", f"{who(actor)} asked for {subject.amount} ({subject.id}), refused: {over.text}."))
            await uow.commit()  # the alert stands; nothing else was stored before this point
            s.notify_soon()
        raise NotAllowed(
            f"{why[:-1]}, so it needs {required} approvers besides you, but {counted(len(approvers), 'person', 'people')} "
            "may approve. Nothing was stored. An admin gives the role with /role @user approver."
        )
    await uow.approvals.add(req)
    body = dumps(Reply(ask.lines + Reply.of(
        f"Requested by: {who(actor)}" + (f" — over their daily limit: {over.text}" if over else ""),
        f"Needs {req.required} approvals; expires {req.expires_at:%Y-%m-%d %H:%M} UTC.").lines,
        (Button("Approve", f"/approve {subject.id}", "primary"), Button("Reject", f"/reject {subject.id}", "danger"),
         *ask.buttons), private=True))
    for ref in approvers:
        await uow.outbox.add(Notification(f"approval:{subject.id}:{ref}", ref, NotificationType.APPROVAL_REQUEST, body, now))
    if over is not None:
        await alert_admins(uow, s, f"alert:daily-limit:{subject.id}", security_alert(
            "daily limit hit", f"{who(actor)} asked for {subject.amount} ({subject.id}); it waits for "
            f"{counted(required, 'approval')}: {over.text}."))
    return Reply.of(
        (bold(f"{subject.title} awaiting approval (0 of {required})"),),
        *ask.lines[1:],  # what the approvers are shown, less their headline: amount, recipient or file
        (why,),
        f"Nothing is signed until {counted(required, 'approver')} approve; {counted(len(approvers), 'approver')} "
        f"asked. It expires in {_ttl_text(s.policy.approval_ttl)} ({req.expires_at:%Y-%m-%d %H:%M} UTC).",
        buttons=(Button("Cancel", f"/{'bulk cancel' if subject.batch else 'cancel'} {subject.id}", "danger"),),
    )


def _thresholds(s: Services, subject: Subject) -> str:
    tokens = [subject.intent.token] if subject.intent else list(subject.batch.totals) if subject.batch else []
    return ", ".join(f"{format_units(s.policy.approval_threshold[t], s.token(t).decimals)} {t}"
                     for t in tokens if t in s.policy.approval_threshold) or "none"


def ask_payment(s: Services, intent: Intent, payee: Payee) -> Reply:
    """What an approver is shown of a payment or a treasury deposit."""
    subject = of_intent(s, intent)
    return Reply.of(
        (bold("Approval needed"), f": {subject.noun} ", code(intent.id)),
        ("Amount: ", bold(subject.amount)),
        ("To: ", code(intent.recipient), payee_line(payee, intent)),
    )


# ------------------------------------------------------------------ decisions
async def approver_role(s: Services, actor: Actor) -> Role:
    return actor.role if actor.role is not None else await role_of(s, actor)


async def _load(s: Services, ref: str) -> tuple[Subject, ApprovalRequest]:
    async with s.uow() as uow:
        subject = await load(s, uow, ref)
        req = await uow.approvals.get(ref)
    if subject is None or req is None:
        raise UserError(f"id: nothing called {ref} waits for approval; /pending lists what does.", field="id")
    return subject, req


def _closed(req: ApprovalRequest, subject: Subject, approvals: int) -> str | None:
    """Why nobody can decide on this request any more, or None while it waits."""
    if req.status is ApprovalStatus.WAITING and subject.waiting:
        return None
    if req.status is ApprovalStatus.APPROVED:
        return f"{subject.id} is already approved ({approvals} of {req.required}) and {subject.state}; nothing changed."
    if req.status is ApprovalStatus.REJECTED:
        return f"{subject.id} was rejected by {req.decided_by}; nothing was paid and nothing changed."
    if req.status is ApprovalStatus.EXPIRED:
        return f"{subject.id} expired at {req.expires_at:%Y-%m-%d %H:%M} UTC without enough approvals; nothing was paid."
    return f"{subject.id} was cancelled by its requester; nothing was paid and nothing changed."


async def _check_may_decide(s: Services, actor: Actor, req: ApprovalRequest, subject: Subject, verb: str) -> None:
    role = await approver_role(s, actor)
    if actor.ref == req.requester_ref:
        withdraw = f"/bulk cancel {req.intent_id}" if subject.batch else f"/cancel {req.intent_id}"
        own = f"approve your own {subject.noun}: another approver has to" if verb == "approve" else \
            f"reject your own {subject.noun}; {withdraw} withdraws it"
        raise NotAllowed(f"You cannot {own}. Nothing changed.")
    if not role.may_approve:
        raise NotAllowed(f"Only approvers and admins can {verb} payments; you are {a_role(role)}. Nothing changed.")


async def expire(s: Services, uow: UnitOfWork, subject: Subject, req: ApprovalRequest, now: datetime) -> None:
    approvals = sum(v.approve for v in await uow.approvals.votes(subject.id))
    req.status, req.decided_at, req.decided_by = ApprovalStatus.EXPIRED, now, "expiry"
    await call_off(s, uow, subject)
    await uow.approvals.save(req)
    again = "upload the file again" if subject.batch else "send /pay again"
    body = Reply.of(f"{subject.title} of {subject.amount} expired with {approvals} of {req.required} approvals; "
                    f"nothing was paid. If it is still due, {again}.", kind="error")
    await uow.outbox.add(Notification(f"approval:{subject.id}:expired", req.requester_ref,
                                      NotificationType.APPROVAL_OUTCOME, dumps(body), now))
    await alert_admins(uow, s, f"alert:approval-expired:{subject.id}", security_alert(
        "approval request expired", f"{subject.title} of {subject.amount} requested by {req.requester_ref} got "
        f"{approvals} of {req.required} approvals in time; nothing was paid."))


async def approve(s: Services, cmd: Approve) -> Reply:
    subject, req = await _load(s, cmd.ref)
    await _check_may_decide(s, cmd.actor, req, subject, "approve")
    now = s.clock.now()
    async with s.uow() as uow:
        votes = await uow.approvals.votes(subject.id)
    if req.status is ApprovalStatus.WAITING and now < req.expires_at and sum(v.approve for v in votes) + 1 >= req.required:
        # The last approval sends it: refuse before storing anything if the on-chain allowance would not cover it.
        await check_covered(s, subject)
    async with s.uow() as uow:
        subject, req, votes = await _still_open(s, uow, subject, req, now, "approve")
        if not await uow.approvals.vote(Vote(subject.id, cmd.actor.ref, True, now)):
            mine = next(v for v in votes if v.approver_ref == cmd.actor.ref)
            did = "approved" if mine.approve else "rejected"
            raise NotAllowed(f"You already {did} {subject.id} ({mine.at:%Y-%m-%d %H:%M} UTC); nothing changed.")
        approvers = [v.approver_ref for v in votes if v.approve] + [cmd.actor.ref]
        count = len(approvers)
        if count >= req.required:
            req.status, req.decided_at, req.decided_by = ApprovalStatus.APPROVED, now, cmd.actor.ref
            await uow.approvals.save(req)
        else:
            body = Reply.of(f"{who(cmd.actor)} approved {subject.noun} {subject.id} ({count} of {req.required}).")
            await uow.outbox.add(Notification(f"approval:{subject.id}:vote:{cmd.actor.ref}", req.requester_ref,
                                              NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await uow.commit()
    if count < req.required:
        s.notify_soon()
        return Reply.of(f"Approved: {subject.noun} {subject.id} has {count} of {req.required} approvals. Nothing is "
                        "sent until the last one.", kind="ok")
    done = await proceed(s, subject.id)
    await tell_outcome(s, subject.id, req, approvers, cmd.actor.ref)
    head = (bold(f"Approved ({count} of {req.required}): {subject.noun} {subject.id} "
                 f"{'started' if subject.batch else 'went to signing'}."),)
    return Reply((tuple(_span(p) for p in head),) + done.lines, done.buttons, done.files, done.private, done.kind)


def _span(p: str | Span) -> Span:
    return p if isinstance(p, Span) else Span(p)


async def tell_outcome(s: Services, ref: str, req: ApprovalRequest, approvers: list[str], actor_ref: str) -> None:
    """The requester and the other approvers hear what became of the approved subject (the actor has the reply);
    the admins are alerted when money above the threshold is on its way."""
    async with s.uow() as uow:
        subject = await load(s, uow, ref)
        assert subject is not None
        what, sent = await outcome(s, uow, ref)
        failed = subject.intent is not None and subject.intent.status is IntentStatus.FAILED
        body = Reply.of(f"{subject.title} of {subject.amount} was approved by {', '.join(approvers)}: {what}.",
                        kind="error" if failed else "ok")
        now = s.clock.now()
        if sent:
            to = f" to {subject.intent.recipient}" if subject.intent else ""
            await alert_admins(uow, s, f"alert:approved-sent:{ref}", security_alert(
                f"{subject.noun} above the approval threshold sent", f"{subject.title} of {subject.amount}{to}, "
                f"requested by {req.requester_ref}, approved by {', '.join(approvers)}."))
        for who in dict.fromkeys([req.requester_ref, *approvers]):
            if who != actor_ref:
                await uow.outbox.add(Notification(f"approval:{ref}:outcome:{who}", who,
                                                  NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await uow.commit()
    s.notify_soon()


async def reject(s: Services, cmd: Reject) -> Reply:
    subject, req = await _load(s, cmd.ref)
    await _check_may_decide(s, cmd.actor, req, subject, "reject")
    now = s.clock.now()
    why = cmd.reason or "no reason given"
    async with s.uow() as uow:
        subject, req, votes = await _still_open(s, uow, subject, req, now, "reject")
        if not await uow.approvals.vote(Vote(subject.id, cmd.actor.ref, False, now, cmd.reason)):
            raise NotAllowed(f"You already approved {subject.id}; an approval cannot be taken back. Nothing changed.")
        req.status, req.decided_at, req.decided_by, req.reason = ApprovalStatus.REJECTED, now, cmd.actor.ref, cmd.reason
        await call_off(s, uow, subject)
        await uow.approvals.save(req)
        body = Reply.of(f"{subject.title} of {subject.amount} was rejected by {who(cmd.actor)}: {why}. "
                        "Nothing was paid.", kind="error")
        for ref in dict.fromkeys([req.requester_ref, *(v.approver_ref for v in votes)]):
            await uow.outbox.add(Notification(f"approval:{subject.id}:rejected:{ref}", ref,
                                              NotificationType.APPROVAL_OUTCOME, dumps(body), now))
        await alert_admins(uow, s, f"alert:approval-rejected:{subject.id}", security_alert(
            f"{subject.noun} rejected", f"{who(cmd.actor)} rejected {subject.noun} {subject.id} of {subject.amount} "
            f"requested by {req.requester_ref}: {why}."))
        await uow.commit()
    s.notify_soon()
    return Reply.of(f"Rejected: {subject.noun} {subject.id} is cancelled and nothing was paid. The requester has been "
                    "told.", kind="ok")


async def hold_on(uow: UnitOfWork, ref: str, *, cancelling: bool) -> str | None:
    """Why /confirm or a cancel may not touch this payment or batch because of its approval request (call with
    its row lock held, while it has not started); None when they may. A cancel withdraws a waiting request (and
    the caller commits)."""
    req = await uow.approvals.get(ref)
    if req is None:
        return None
    if req.status is ApprovalStatus.APPROVED:
        return None if not cancelling else "it is approved and being sent; it cannot be called back"
    if req.status is ApprovalStatus.WAITING:
        if cancelling:
            req.status = ApprovalStatus.CANCELLED
            await uow.approvals.save(req)
            return None
        approvals = sum(v.approve for v in await uow.approvals.votes(ref))
        return f"it is awaiting approval ({approvals} of {req.required}); it is sent when approved"
    return None


async def _still_open(s: Services, uow: UnitOfWork, subject: Subject, req: ApprovalRequest, now: datetime,
                      verb: str) -> tuple[Subject, ApprovalRequest, list[Vote]]:
    """Re-read the request under the subject's row lock (which serialises deciders and the requester's cancel);
    expire it if its time is up; refuse (NotAllowed, after committing an expiry) when it can no longer be decided."""
    subject = await load(s, uow, subject.id, for_update=True) or subject
    req = await uow.approvals.get(subject.id) or req
    votes = await uow.approvals.votes(subject.id)
    closed = _closed(req, subject, sum(v.approve for v in votes))
    if closed is None and now >= req.expires_at:
        await expire(s, uow, subject, req, now)
        await uow.commit()
        s.notify_soon()
        closed = _closed(req, subject, 0)
    if closed is not None:
        raise NotAllowed(f"Too late to {verb}: {closed}")
    return subject, req, votes
