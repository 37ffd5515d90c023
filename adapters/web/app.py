"""The dashboard's Starlette app: sign-in from a chat link, the session cookie, CSRF, and the error pages."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.commands import Actor
from core.dashboard import Page, WebAccess, may_see, pages_for
from core.engine import Engine
from core.errors import TransientError, UserError
from core.roles import Role, role_of
from core.signin import LinkProblem, Signed, SignInRefused, csrf_ok, csrf_token, follow_link, open_session, read_link, read_session

log = logging.getLogger("snowrail.web")

HERE = Path(__file__).parent
COOKIE = "snowrail_session"

_PROBLEMS = {
    LinkProblem.FORGED: "This sign-in link is not valid: it was not made by this bot, or it was cut short when "
                        "copied. Send /dashboard in chat for a new one.",
    LinkProblem.EXPIRED: "This sign-in link has expired: links work for 10 minutes. Send /dashboard in chat for a "
                         "new one.",
    LinkProblem.USED: "This sign-in link was already used: each link opens one session. Send /dashboard in chat "
                      "for a new one.",
}


@dataclass(frozen=True)
class Viewer:
    """The signed-in person of one request."""

    session: Signed
    actor: Actor
    role: Role
    csrf: str

    def may_see(self, page: Page) -> bool:
        return may_see(self.role, page)


class Refused(Exception):
    """A page the viewer may not open (403), said plainly."""


class Dashboard:
    """What every page handler reaches: the engine (and its ports), the web settings and the templates."""

    def __init__(self, engine: Engine, web: WebAccess) -> None:
        self.engine = engine
        self.services = engine.services
        self.web = web
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))

    def path(self, path: str) -> str:
        """A link inside the dashboard, under WEB_BASE_URL's path (a reverse proxy may serve it below /)."""
        from urllib.parse import urlsplit

        return urlsplit(self.web.base_url).path.rstrip("/") + path

    def page(self, request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(
            viewer=viewer, pages=pages_for(viewer.role) if viewer else [], url=self.path, bot=self.services.policy.bot_name,
            current=request.url.path, **context)
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def message(self, request: Request, title: str, text: str, status: int, viewer: Viewer | None = None) -> HTMLResponse:
        return self.page(request, "message.html", viewer, status, title=title, text=text)

    async def viewer(self, request: Request) -> Viewer | None:
        session = read_session(self.web, request.cookies.get(COOKIE, ""), self.services.clock.now())
        if session is None:
            return None
        async with self.services.uow() as uow:
            user = await uow.users.get(session.who.ref)
        # The stored name and handle: the engine remembers who acted, and must not blank them for a web session.
        who = session.who
        actor = Actor(who.platform, who.user_id, user.display_name if user else "", user.handle if user else None,
                      operator=who.operator)
        return Viewer(session, actor, await role_of(self.services, actor), csrf_token(self.web, session))

    async def require(self, request: Request, page: Page) -> Viewer:
        viewer = await self.viewer(request)
        if viewer is None:
            raise HTTPException(401)
        if not viewer.may_see(page):
            raise Refused(page.value)
        return viewer

    async def posted(self, request: Request, page: Page) -> tuple[Viewer, dict[str, str]]:
        """The viewer and the form of a POST, after checking its CSRF token (403 without a valid one)."""
        viewer = await self.require(request, page)
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not csrf_ok(self.web, viewer.session, form.get("csrf", "")):
            raise Refused("csrf")
        return viewer, form


_HEADERS = {
    # Nothing from elsewhere: no CDN, no inline script; pages cannot be framed (clickjacking of Approve buttons).
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the sign-in token sits in the login URL
    "Cache-Control": "no-store",
}


def new_key() -> str:
    """The idempotency key a form carries: pressing Approve twice (or resending the form) acts once."""
    return "web-" + secrets.token_urlsafe(12)


async def login_page(request: Request) -> Response:
    """GET /login?token=…: check the link and show a Sign in button (a script presses it when JavaScript is on).
    A GET never uses the link up: chat apps fetch links to draw previews, and that must not spend it."""
    d: Dashboard = request.app.state.dashboard
    token = request.query_params.get("token", "")
    try:
        signed = read_link(d.web, token, d.services.clock.now())
        async with d.services.uow() as uow:
            if await uow.web.link_used(signed.id):
                raise SignInRefused(LinkProblem.USED)
    except SignInRefused as e:
        return d.message(request, "Sign-in refused", _PROBLEMS[e.problem], 400 if e.problem is LinkProblem.FORGED else 410)
    return d.page(request, "login.html", None, token=token)


async def login(request: Request) -> Response:
    """POST /login: use the link up and open a session (the link's token is the form's proof: no session yet)."""
    d: Dashboard = request.app.state.dashboard
    token = str((await request.form()).get("token", ""))
    now = d.services.clock.now()
    try:
        async with d.services.uow() as uow:
            signed = await follow_link(uow, d.web, token, now)
    except SignInRefused as e:
        return d.message(request, "Sign-in refused", _PROBLEMS[e.problem], 400 if e.problem is LinkProblem.FORGED else 410)
    cookie, until = open_session(d.web, signed.who, now)
    response = RedirectResponse(d.path("/"), status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=int((until - now).total_seconds()), path=d.path("/") or "/",
                        httponly=True, secure=d.web.secure, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    d: Dashboard = request.app.state.dashboard
    viewer = await d.viewer(request)
    form = await request.form()
    if viewer is not None and not csrf_ok(d.web, viewer.session, str(form.get("csrf", ""))):
        raise Refused("csrf")
    response = RedirectResponse(d.path("/signed-out"), status_code=303)
    response.delete_cookie(COOKIE, path=d.path("/") or "/", httponly=True, secure=d.web.secure, samesite="strict")
    return response


async def signed_out(request: Request) -> Response:
    d: Dashboard = request.app.state.dashboard
    return d.message(request, "Signed out", "You are signed out. Send /dashboard in chat to sign in again.", 200)


async def home(request: Request) -> Response:
    d: Dashboard = request.app.state.dashboard
    viewer = await d.viewer(request)
    if viewer is None:
        raise HTTPException(401)
    first = Page.TREASURY if viewer.may_see(Page.TREASURY) else Page.LEDGER
    return RedirectResponse(d.path(f"/{first.value}"), status_code=303)


async def _unauthorised(request: Request, exc: Exception) -> Response:
    d: Dashboard = request.app.state.dashboard
    if isinstance(exc, HTTPException) and exc.status_code == 404:
        return d.message(request, "Not found", "There is no such page here.", 404, await d.viewer(request))
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        return d.message(request, "Not allowed", "That page does not take this kind of request.", 405)
    return d.message(request, "Please sign in", "Your session has ended or you have not signed in. Send /dashboard "
                     "in chat: the bot sends you a one-time sign-in link.", 401)


async def _refused(request: Request, exc: Exception) -> Response:
    d: Dashboard = request.app.state.dashboard
    viewer = await d.viewer(request)
    if str(exc) == "csrf":
        return d.message(request, "Form refused", "This form was not sent from a dashboard page of your session "
                         "(its CSRF token is missing or wrong). Reload the page and try again.", 403, viewer)
    team = "admins" if str(exc) == Page.AUDIT.value else "the treasury team (operators, approvers and admins)"
    return d.message(request, "Not for your role", f"The {exc} page is for {team}. Your own payments are on the "
                     "ledger page.", 403, viewer)


async def _bad_input(request: Request, exc: Exception) -> Response:
    d: Dashboard = request.app.state.dashboard
    assert isinstance(exc, UserError)
    return d.message(request, "Please check the form", exc.message, 400, await d.viewer(request))


async def _unavailable(request: Request, exc: Exception) -> Response:
    d: Dashboard = request.app.state.dashboard
    assert isinstance(exc, TransientError)
    return d.message(request, "Try again in a moment", f"The {exc.service} is not answering right now.", 503)


async def _failed(request: Request, exc: Exception) -> Response:
    d: Dashboard = request.app.state.dashboard
    ref = "E-" + secrets.token_hex(3)
    log.error("dashboard page %s failed (reference %s)", request.url.path, ref, exc_info=exc)
    return d.message(request, "Something went wrong", f"Sorry, something went wrong on our side (reference {ref}).", 500)


def create_app(engine: Engine, web: WebAccess) -> Starlette:
    """The dashboard over this engine: it reads through the engine's unit of work and acts through its commands."""
    from adapters.web import pages, streams

    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/signed-out", signed_out),
        *pages.ROUTES,
        *streams.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        HTTPException: _unauthorised, Refused: _refused, UserError: _bad_input, TransientError: _unavailable,
        Exception: _failed,
    })
    app.state.dashboard = Dashboard(engine, web)
    return app
