"""The sign-in link is a key, so it is kept nowhere: no table (the outbox, web_sign_ins, the audit log, any other)
and no log line signs anyone in; the deliverer signs the link as the DM goes out, and that link signs in once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import psycopg2
import pytest
from psycopg2 import sql

from adapters.web import create_app
from bot.bootstrap import App, build
from bot.settings import Settings
from core.commands import Actor
from core.engine import Engine
from core.model import DeliveryStatus, NotificationType
from core.replies import dumps, loads
from tests.adapters.web.helpers import BOB, OLGA, World, follow, link_in, token_of
from tests.fakes import FakeNotifier

OP = Actor("console", "fin", "Finance")


def database_text(url: str) -> str:
    """Every row of every table, as text: what someone who reads the database (or a dump of it) would have."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            tables = [row[0] for row in cursor.fetchall()]
            rows: list[str] = []
            for table in tables:
                cursor.execute(sql.SQL("SELECT row_to_json(t)::text FROM {} t").format(sql.Identifier(table)))
                rows += [f"{table} {row[0]}" for row in cursor.fetchall()]
    finally:
        connection.close()
    return "\n".join(rows)


@pytest.fixture
def database(new_postgres_database) -> str:
    return str(new_postgres_database())


@pytest.fixture
async def app(database, tmp_path) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=database, operators=OP.ref,
                        web_base_url="http://dash.test", web_port=0)
    built = await build(settings)
    try:
        yield built
    finally:
        await built.close()


def browser(app: App) -> httpx.AsyncClient:
    web = app.engine.services.web
    assert web is not None
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(app.engine, web)), base_url="http://dash.test")


@pytest.mark.postgres
async def test_no_table_or_log_holds_a_working_link_before_or_after_delivery(app, database, caplog):
    caplog.set_level(logging.DEBUG)
    answer = await app.engine.handle_text("/dashboard", actor=OP, key="dash-1")
    queued = database_text(database)
    assert "notifications" in queued and "sign_in_link" in queued  # the DM waits in the outbox: its row is read

    notifier = FakeNotifier()
    assert await app.engine.deliver_notifications(notifier) == 1
    link = link_in(notifier.sent, OP)
    token = token_of(link)
    payload, mac = token.split(".")
    delivered = database_text(database)
    assert '"status":"sent"' in delivered

    async with browser(app) as first:
        assert (await follow(first, link)).status_code == 303  # the delivered DM's link signs in ...
        assert (await first.get("/treasury")).status_code == 200
    async with browser(app) as second:
        again = await follow(second, link)
        assert again.status_code == 410 and "already used" in again.text  # ... once
    used = database_text(database)
    assert "web_sign_ins" in used and "audit_log" in used and '"dashboard"' in used  # the tables were read

    # The bot's and the dashboard's logs (not httpx's, which here is the test's browser logging its own requests).
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records if r.name != "httpx")
    for seen in (queued, delivered, used, logged, answer.plain()):
        # The MAC is what only WEB_SECRET makes: without it the link's fields (its id, whose, until when) open nothing.
        assert mac not in seen and token not in seen and "login?token=" not in seen


@pytest.mark.postgres
async def test_what_the_outbox_keeps_does_not_sign_in(app, database):
    await app.engine.handle_text("/dashboard", actor=OP, key="dash-2")
    async with app.uow() as uow:
        stored = [n for n in await uow.web.notifications(OP.ref, 5) if n.type is NotificationType.SIGN_IN_LINK]
    assert len(stored) == 1
    words = [w for line in loads(stored[0].body).lines for span in line for w in (span.text, span.url or "") if w]
    async with browser(app) as client:
        for word in words + [w.rsplit(":", 1)[-1] for w in words]:
            refused = await client.post("/login", data={"token": word})
            assert refused.status_code == 400 and "snowrail_session" not in client.cookies, word


# ------------------------------------------------------------------ the deliverer's side, fakes at the ports
@pytest.fixture
def world() -> World:
    return World()


async def test_a_deliverer_without_web_secret_leaves_the_link_for_one_that_has_it(world):
    await world.say("/dashboard", OLGA)
    unable = Engine(chain=world.chain, uow=world.db, clock=world.clock, policy=world.engine.services.policy)
    notifier = FakeNotifier()
    assert await unable.deliver_notifications(notifier) == 0 and notifier.sent == []
    row = next(n for n in world.db.store.outbox if n.type is NotificationType.SIGN_IN_LINK)
    assert row.status is DeliveryStatus.PENDING and row.last_error is not None and "WEB_SECRET" in row.last_error
    world.clock.advance(minutes=3)  # the failed claim's lease runs out
    able = FakeNotifier()
    assert await world.engine.deliver_notifications(able) == 1
    async with world.client() as client:
        assert (await follow(client, link_in(able.sent, OLGA))).status_code == 303


async def test_a_link_that_went_stale_in_the_outbox_is_not_sent(world):
    await world.say("/dashboard", OLGA)
    world.clock.advance(minutes=10, seconds=1)
    notifier = FakeNotifier()
    await world.engine.deliver_notifications(notifier)
    [(ref, dm)] = notifier.sent
    assert ref == OLGA.ref and "ran out" in dm.plain() and "/dashboard" in dm.plain()
    assert "token=" not in dm.plain()


async def test_a_stored_link_moved_to_another_person_is_not_signed(world):
    """Someone who can write the outbox but not read WEB_SECRET cannot have Olga's link sent to Bob."""
    await world.say("/dashboard", OLGA)
    row = next(n for n in world.db.store.outbox if n.type is NotificationType.SIGN_IN_LINK)
    row.user_ref = BOB.ref
    notifier = FakeNotifier()
    await world.engine.deliver_notifications(notifier)
    [(ref, dm)] = notifier.sent
    assert ref == BOB.ref and "ran out" in dm.plain() and "token=" not in dm.plain()


async def test_a_link_stored_before_this_change_is_still_delivered_as_it_was(world):
    """Rows queued by an older bot hold the whole link: they go out unchanged (and run out 10 minutes later)."""
    from core.model import Notification
    from core.replies import Reply

    old = Reply.of("Your SnowRail dashboard sign-in link (works once, for 10 minutes; do not share it):\n"
                   "http://dash.test/login?token=abc.def")
    world.db.store.outbox.append(Notification("signin:old", OLGA.ref, NotificationType.SIGN_IN_LINK, dumps(old),
                                              world.clock.now()))
    notifier = FakeNotifier()
    await world.engine.deliver_notifications(notifier)
    assert notifier.sent == [(OLGA.ref, old)]
