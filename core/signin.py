"""Signing in to the web dashboard from chat: the one-time link, the session it opens, its CSRF token, and /dashboard."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.commands import Actor, Dashboard
from core.dashboard import WebAccess
from core.errors import UserError
from core.model import Notification, NotificationType
from core.ports import DuplicateKey, UnitOfWork
from core.replies import Reply, Span, dumps, loads
from core.services import Services

LINK_TTL = timedelta(minutes=10)  # the figure: long enough to switch to a browser, short enough to go stale
# A sign-in DM waits in the outbox with this stand-in where its link goes: a link span whose url is the link's
# fields (id, identity, expiry: not secret). The deliverer signs them as it sends the DM (signed_dm).
_STAND_IN = "snowrail-signin:"
_UNSIGNED = "(the link is signed as this message is sent)"


class LinkProblem(str, enum.Enum):
    """Why a sign-in link was refused; the page says which."""

    FORGED = "forged"  # not signed by this bot's WEB_SECRET, or mangled on the way
    EXPIRED = "expired"  # older than LINK_TTL
    USED = "used"  # followed once already: a link opens one session


class SignInRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class Identity:
    """Who a link or a session belongs to: one platform identity (a Telegram sign-in is not the Discord one).
    `operator`: the platform vouched for operator rights when the link was asked for (a Discord role)."""

    platform: str
    user_id: str
    operator: bool = False

    @property
    def ref(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Signed:
    """A verified link or session: its random id, whose it is, and until when it is good."""

    id: str
    who: Identity
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(web: WebAccess, purpose: str, payload: str) -> str:
    # The purpose is signed too: a session cookie can never be replayed as a link, nor a link as a cookie.
    return _b64(hmac.new(web.secret, f"{purpose}|{payload}".encode(), hashlib.sha256).digest())


def _fields(token_id: str, who: Identity, expires_at: datetime) -> str:
    return "|".join([token_id, who.platform, who.user_id, "1" if who.operator else "0", str(int(expires_at.timestamp()))])


def _parse(fields: str) -> Signed:
    token_id, platform, user_id, operator, expires = fields.split("|")  # ValueError when mangled
    return Signed(token_id, Identity(platform, user_id, operator == "1"), datetime.fromtimestamp(int(expires), UTC))


def _token(web: WebAccess, purpose: str, signed: Signed) -> str:
    payload = _b64(_fields(signed.id, signed.who, signed.expires_at).encode())
    return f"{payload}.{_mac(web, purpose, payload)}"


def _sign(web: WebAccess, purpose: str, who: Identity, expires_at: datetime) -> tuple[str, str]:
    token_id = secrets.token_urlsafe(12)
    return token_id, _token(web, purpose, Signed(token_id, who, expires_at))


def _verify(web: WebAccess, purpose: str, token: str, now: datetime) -> Signed:
    payload, _, mac = token.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(web, purpose, payload)):
        raise SignInRefused(LinkProblem.FORGED)
    try:
        signed = _parse(_unb64(payload).decode())
    except ValueError:  # signed by us, so only an older format gets here
        raise SignInRefused(LinkProblem.FORGED) from None
    if now >= signed.expires_at:
        raise SignInRefused(LinkProblem.EXPIRED)
    return signed


def link_for(web: WebAccess, actor: Actor, now: datetime) -> tuple[str, str]:
    """A fresh sign-in link for `actor`: (its id, the URL to follow)."""
    token_id, token = _sign(web, "link", Identity(actor.platform, actor.user_id, actor.operator), now + LINK_TTL)
    return token_id, web.url(f"/login?token={token}")


def read_link(web: WebAccess, token: str, now: datetime) -> Signed:
    """The link's identity if it is ours and fresh; SignInRefused(FORGED | EXPIRED) otherwise. Not yet used up."""
    return _verify(web, "link", token, now)


async def follow_link(uow: UnitOfWork, web: WebAccess, token: str, now: datetime) -> Signed:
    """Verify the link and use it up in this unit of work (committed here): SignInRefused(USED) the second time,
    from this process or any other (the link id's UNIQUE key decides a race)."""
    signed = read_link(web, token, now)
    if await uow.web.link_used(signed.id):
        raise SignInRefused(LinkProblem.USED)
    try:
        await uow.web.use_link(signed.id, signed.who.ref, now, signed.expires_at)
        await uow.commit()
    except DuplicateKey:
        raise SignInRefused(LinkProblem.USED) from None
    return signed


def open_session(web: WebAccess, who: Identity, now: datetime) -> tuple[str, datetime]:
    """The session cookie's value for `who`, and when it runs out (WEB_SESSION_HOURS)."""
    until = now + timedelta(hours=web.session_hours)
    return _sign(web, "session", who, until)[1], until


def read_session(web: WebAccess, cookie: str, now: datetime) -> Signed | None:
    """The session's identity, or None for a missing, forged or expired cookie (the page asks to sign in again)."""
    try:
        return _verify(web, "session", cookie, now)
    except SignInRefused:
        return None


def csrf_token(web: WebAccess, session: Signed) -> str:
    """The token every form of this session carries: bound to the session, so another site cannot mint one."""
    return _mac(web, "csrf", session.id)


def csrf_ok(web: WebAccess, session: Signed, token: str) -> bool:
    return bool(token) and hmac.compare_digest(token, csrf_token(web, session))


async def dashboard(services: Services, cmd: Dashboard) -> Reply:
    """`/dashboard`: DM the person a sign-in link (never in the chat it was asked in: the link is a key)."""
    web = services.web
    if web is None:
        raise UserError("dashboard: this bot serves no web dashboard; an admin sets WEB_BASE_URL and runs "
                        "`snowrail run web`", field="dashboard")
    now = services.clock.now()
    link = Signed(secrets.token_urlsafe(12), Identity(cmd.actor.platform, cmd.actor.user_id, cmd.actor.operator),
                  now + LINK_TTL)
    # The outbox keeps only the link's fields: nothing in the database signs anyone in (see _STAND_IN).
    body = Reply.of(f"Your {services.policy.bot_name} dashboard sign-in link (works once, for 10 minutes; "
                    "do not share it):", Span(_UNSIGNED, "link", _STAND_IN + _fields(link.id, link.who, link.expires_at)))
    async with services.uow() as uow:
        await uow.outbox.add(Notification(f"signin:{link.id}", cmd.actor.ref, NotificationType.SIGN_IN_LINK,
                                          dumps(body), now))
        await uow.commit()
    services.notify_soon()
    return Reply.of("I sent you a sign-in link in a direct message. It works once, for 10 minutes.")


def signed_dm(web: WebAccess | None, n: Notification, now: datetime) -> Reply | None:
    """The DM a stored sign-in notification stands for, its link signed now with WEB_SECRET (the same link the web
    side verifies). None when this process has no WEB_SECRET to sign with. A link gone stale in the outbox, or a
    stand-in for anyone but the row's own addressee, is replaced by a line saying to ask again."""
    body = loads(n.body)
    lines = []
    for line in body.lines:
        spans = []
        for span in line:
            if span.kind == "link" and span.url and span.url.startswith(_STAND_IN):
                if web is None:
                    return None
                link = _stood_in(span.url, n.user_ref, now)
                if link is None:
                    return Reply.of("That dashboard sign-in link ran out before it could be sent; "
                                    "send /dashboard again for a fresh one.")
                span = Span(web.url(f"/login?token={_token(web, 'link', link)}"))
            spans.append(span)
        lines.append(tuple(spans))
    return Reply(tuple(lines), body.buttons, body.files, body.private, body.kind)


def _stood_in(url: str, user_ref: str, now: datetime) -> Signed | None:
    """The link a stand-in describes, if it is still fresh and for the person the row is addressed to."""
    try:
        link = _parse(url.removeprefix(_STAND_IN))
    except ValueError:
        return None
    return link if link.who.ref == user_ref and now < link.expires_at else None
