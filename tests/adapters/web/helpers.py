"""Signing in to the dashboard the way a person does: /dashboard in chat, the link from the DM, the Sign in button."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from urllib.parse import parse_qs, urlsplit

import httpx

from adapters.web import create_app
from core.commands import Actor
from core.dashboard import WebAccess
from core.engine import Engine
from core.replies import Reply
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, FakeNotifier, RecordingQueue
from tests.fakes_escrow import FakeEscrowChain

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_KEY = re.compile(r'name="key" value="([^"]+)"')


def link_in(sent: Iterable[tuple[str, Reply]], actor: Actor) -> str:
    """The newest sign-in link DMed to `actor`, from the DMs a notifier delivered (the outbox holds it unsigned)."""
    links = [w for ref, reply in sent if ref == actor.ref for w in reply.plain().split() if "/login?token=" in w]
    assert links, "no sign-in link was sent"
    return links[-1]


async def delivered_link(engine: Engine, actor: Actor) -> str:
    """Deliver the outbox (as the bot's deliverer does) and return the sign-in link `actor` got in their DM."""
    notifier = FakeNotifier()
    await engine.deliver_notifications(notifier)
    return link_in(notifier.sent, actor)


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def follow(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link, then press Sign in (what static/signin.js does in a browser)."""
    page = await client.get(link)
    if page.status_code != 200:
        return page
    return await client.post(urlsplit(link).path, data={"token": token_of(link)})


def csrf_in(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def keys_in(html: str) -> list[str]:
    return _KEY.findall(html)


ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS
OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
APRIL = Actor("telegram", "3", "April", "april")  # APPROVERS
BOB = Actor("discord", "7", "Bob", "bob")  # a member
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class World:
    def __init__(self, base_url: str = "http://dash.test", required: int = 1, secret: bytes = b"k" * 32) -> None:
        self.chain, self.db, self.clock = FakeChain(), FakeDatabase(), FakeClock()
        policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref}), approvers=frozenset({APRIL.ref}),
                        approval_threshold={"CRO": 10 * 10**18}, approvals_required=required)
        self.web = WebAccess(base_url, secret)
        self.escrow = FakeEscrowChain(self.chain, self.clock)
        self.engine = Engine(chain=self.chain, uow=self.db, clock=self.clock, queue=RecordingQueue(), policy=policy,
                             web=self.web, escrow=self.escrow)
        self.base_url = base_url
        self.n = 0

    def client(self) -> httpx.AsyncClient:
        # A path in WEB_BASE_URL is where a reverse proxy mounts the dashboard: ASGI's root_path, as uvicorn's
        # --root-path (or a proxy that keeps the prefix) gives it.
        parts = urlsplit(self.base_url)
        transport = httpx.ASGITransport(app=create_app(self.engine, self.web), root_path=parts.path.rstrip("/"))
        return httpx.AsyncClient(transport=transport, base_url=f"{parts.scheme}://{parts.netloc}")

    async def say(self, text: str, actor: Actor) -> str:
        self.n += 1
        return (await self.engine.handle_text(text, actor=actor, key=f"k{self.n}")).plain()

    async def link(self, actor: Actor) -> str:
        reply = await self.say("/dashboard", actor)
        assert "direct message" in reply and "token" not in reply  # the link itself never goes to the chat
        return await delivered_link(self.engine, actor)

    @contextlib.asynccontextmanager
    async def signed_in(self, actor: Actor) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            response = await follow(client, await self.link(actor))
            assert response.status_code == 303, response.text
            yield client
