"""The dashboard's pages: treasury, ledger, approvals, schedules, intents, notifications and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.app import Dashboard, Viewer, new_key
from adapters.web.render import amount, reply_html, spending_chart
from core.commands import Approve, Cancel, ChangeSchedule, Reject
from core.dashboard import CHART_DAYS, PAGE_SIZE, Cursor, LedgerFilter, Page, parse_filter, sees_everyone
from core.errors import ChainUnavailable, UserError
from core.escrow.model import EscrowStatus
from core.ledger import OutflowStatus
from core.model import ApprovalStatus, NotificationType
from core.replies import Reply, loads
from core.schedules.handlers import line as schedule_line

_SCHEDULE_ACTIONS = ("pause", "resume", "cancel", "skip")
_OPEN_ESCROWS = [EscrowStatus.AWAITING, EscrowStatus.FUNDED, EscrowStatus.RELEASING, EscrowStatus.REFUNDING]


def _d(request: Request) -> Dashboard:
    d: Dashboard = request.app.state.dashboard
    return d


async def treasury(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.TREASURY)
    chain, now = d.services.chain, d.services.clock.now()
    rows, problem = [], None
    try:
        for token in chain.tokens:
            allowance = await chain.executor_allowance(token) if not token.native else None
            rows.append({
                "symbol": token.symbol,
                "balance": amount(await chain.balance(chain.treasury, token), token.symbol, chain.tokens),
                "allowance": (amount(allowance.remaining, token.symbol, chain.tokens) + f" (refills {allowance.refills_at:%Y-%m-%d %H:%M} UTC)")
                if allowance else ("no on-chain cap" if not token.native else "not capped (gas token)"),
            })
        gas = amount(await chain.balance(chain.executor, chain.tokens.native), chain.tokens.native.symbol, chain.tokens)
    except ChainUnavailable:
        gas, problem = "unknown", "The chain's node is not answering: balances will show when it is back."
    async with d.services.uow() as uow:
        spends = await uow.web.spending(now - timedelta(days=CHART_DAYS))
    charts = [(t.symbol, spending_chart(spends, t.symbol, chain.tokens, now.date()))
              for t in chain.tokens if any(s.token == t.symbol for s in spends)]
    return d.page(request, "treasury.html", viewer, rows=rows, gas=gas, executor=chain.executor,
                  treasury=chain.treasury, charts=charts, problem=problem)


def _filter_for(d: Dashboard, viewer: Viewer, params: Any) -> LedgerFilter:
    where = parse_filter(params, tokens=frozenset(d.services.chain.tokens.symbols()))
    if not sees_everyone(viewer.role):  # a member's ledger is their own payments, whatever the query says
        where = LedgerFilter(where.since, where.until, where.token, viewer.actor.ref, where.status)
    return where


async def ledger(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.LEDGER)
    where = _filter_for(d, viewer, request.query_params)
    after_text = request.query_params.get("after", "")
    after = Cursor.decode(after_text) if after_text else None
    async with d.services.uow() as uow:
        found = await uow.web.ledger_page(where, after, PAGE_SIZE + 1)
    more, found = len(found) > PAGE_SIZE, found[:PAGE_SIZE]
    chain = d.services.chain
    rows = [{"o": o, "amount": amount(o.amount, o.token, chain.tokens),
             "explorer": chain.explorer_url(o.tx_hash) if o.tx_hash else None} for o in found]
    query = where.query()
    if not sees_everyone(viewer.role):
        query.pop("person", None)
    return d.page(request, "ledger.html", viewer, rows=rows, query=query, tokens=chain.tokens.symbols(),
                  statuses=[s.value for s in OutflowStatus], mine=not sees_everyone(viewer.role),
                  next_cursor=Cursor.after(found[-1]).encode() if more and found else None,
                  past_end=after is not None and not found)


async def approvals(request: Request, notice: Reply | None = None) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.APPROVALS)
    chain, items = d.services.chain, []
    async with d.services.uow() as uow:
        for req in await uow.approvals.with_status(ApprovalStatus.WAITING, limit=200):
            intent = await uow.intents.get(req.intent_id)
            if intent is None:
                continue
            votes = await uow.approvals.votes(req.intent_id)
            items.append({"r": req, "i": intent, "amount": amount(intent.amount, intent.token, chain.tokens),
                          "votes": votes, "key_approve": new_key(), "key_reject": new_key()})
    return d.page(request, "approvals.html", viewer, items=items, notice=reply_html(notice) if notice else None,
                  notice_kind=notice.kind if notice else "")


async def decide(request: Request) -> Response:
    """POST /approvals/<id>/approve|reject: the same engine command as /approve and /reject in chat, so the rules,
    the audit log and the chat announcements are the same ones."""
    d = _d(request)
    viewer, form = await d.posted(request, Page.APPROVALS)
    intent_id, verdict = request.path_params["intent_id"], request.path_params["verdict"]
    if verdict not in ("approve", "reject"):
        raise HTTPException(404)
    key = _key(form)
    if verdict == "approve":
        reply = await d.engine.handle(Approve(viewer.actor, key, intent_id))
    else:
        reason = " ".join(form.get("reason", "").split())[:200] or None
        reply = await d.engine.handle(Reject(viewer.actor, key, intent_id, reason))
    d.services.notify_soon()
    return await approvals(request, notice=reply)


def _key(form: dict[str, str]) -> str:
    key = form.get("key", "")
    if not key.startswith("web-") or len(key) > 64:
        raise UserError("key: this form is missing its one-time key; reload the page and try again", field="key")
    return key


async def schedules(request: Request, notice: Reply | None = None) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.SCHEDULES)
    everyone = sees_everyone(viewer.role)
    async with d.services.uow() as uow:
        found = await uow.schedules.listed(None if everyone else viewer.actor.ref, 200)
    items = [{"s": s, "line": reply_html(Reply.of(schedule_line(d.services, s, owner=everyone))), "key": new_key(),
              "mine": s.owner_ref == viewer.actor.ref} for s in found]
    return d.page(request, "schedules.html", viewer, items=items, actions=_SCHEDULE_ACTIONS,
                  notice=reply_html(notice) if notice else None, notice_kind=notice.kind if notice else "")


async def change_schedule(request: Request) -> Response:
    d = _d(request)
    viewer, form = await d.posted(request, Page.SCHEDULES)
    action = request.path_params["action"]
    if action not in _SCHEDULE_ACTIONS:
        raise UserError(f"action: {action[:20]!r} is not one of {', '.join(_SCHEDULE_ACTIONS)}", field="action")
    reply = await d.engine.handle(ChangeSchedule(viewer.actor, _key(form), action, request.path_params["schedule_id"]))
    return await schedules(request, notice=reply)


async def intents(request: Request, notice: Reply | None = None) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.INTENTS)
    chain = d.services.chain
    async with d.services.uow() as uow:
        if sees_everyone(viewer.role):
            found = await uow.escrows.with_status(_OPEN_ESCROWS, limit=200)
        else:
            found = await uow.escrows.for_actor(viewer.actor.ref, 200)
        payments = await uow.intents.for_actor(viewer.actor.ref, 50)
    items = [{"e": e, "amount": amount(e.amount, e.token, chain.tokens), "funded": amount(e.funded, e.token, chain.tokens),
              "key": new_key(), "mine": e.actor_ref == viewer.actor.ref} for e in found]
    own = [{"p": p, "amount": amount(p.amount, p.token, chain.tokens), "key": new_key(),
            "explorer": chain.explorer_url(p.tx_hash) if p.tx_hash else None} for p in payments]
    return d.page(request, "intents.html", viewer, items=items, payments=own,
                  notice=reply_html(notice) if notice else None, notice_kind=notice.kind if notice else "")


async def cancel(request: Request) -> Response:
    """POST /intents/<id>/cancel: chat's /cancel (an escrowed intent's refund, or a payment not yet sent)."""
    d = _d(request)
    viewer, form = await d.posted(request, Page.INTENTS)
    reply = await d.engine.handle(Cancel(viewer.actor, _key(form), request.path_params["intent_id"]))
    d.services.notify_soon()
    return await intents(request, notice=reply)


async def notifications(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.NOTIFICATIONS)
    async with d.services.uow() as uow:
        found = await uow.web.notifications(viewer.actor.ref, 100)
        read_until = await uow.web.read_until(viewer.actor.ref)
    items = [{"n": n, "unread": read_until is None or n.created_at > read_until,
              # A sign-in link is a key: the page says one was sent, never shows it again.
              "body": reply_html(Reply.of("A dashboard sign-in link was sent to you.")) if n.type is NotificationType.SIGN_IN_LINK
              else reply_html(loads(n.body))} for n in found]
    return d.page(request, "notifications.html", viewer, items=items, unread=sum(1 for i in items if i["unread"]))


async def mark_read(request: Request) -> Response:
    d = _d(request)
    viewer, _ = await d.posted(request, Page.NOTIFICATIONS)
    async with d.services.uow() as uow:
        await uow.web.mark_read(viewer.actor.ref, d.services.clock.now())
        await uow.commit()
    return await notifications(request)


async def audit(request: Request) -> Response:
    d = _d(request)
    viewer = await d.require(request, Page.AUDIT)
    async with d.services.uow() as uow:
        entries = await uow.audit.recent(200)
        grants = await uow.roles.all()
    return d.page(request, "audit.html", viewer, entries=entries, grants=grants,
                  seeded_admins=sorted(d.services.policy.admins))


ROUTES = [
    Route("/treasury", treasury),
    Route("/ledger", ledger),
    Route("/approvals", approvals),
    Route("/approvals/{intent_id}/{verdict:str}", decide, methods=["POST"]),
    Route("/schedules", schedules),
    Route("/schedules/{schedule_id}/{action}", change_schedule, methods=["POST"]),
    Route("/intents", intents),
    Route("/intents/{intent_id}/cancel", cancel, methods=["POST"]),
    Route("/notifications", notifications),
    Route("/notifications/read", mark_read, methods=["POST"]),
    Route("/audit", audit),
]
