"""Signing in to the dashboard over HTTP (the real Starlette app, fakes at the engine's ports): the one-time link,
the session cookie's flags, CSRF, and what each role may open."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.dashboard import WebAccess
from core.engine import Engine
from core.model import ApprovalStatus, NotificationType
from core.replies import loads
from core.services import Policy
from tests.adapters.web.helpers import ADA, ADDR, APRIL, BOB, OLGA, World, csrf_in, follow, keys_in, token_of
from tests.fakes import FakeChain, FakeClock, FakeDatabase

@pytest.fixture
def world() -> World:
    return World()


async def test_the_link_is_sent_by_dm_points_at_the_base_url_and_opens_a_session(world):
    link = await world.link(BOB)
    assert link.startswith("http://dash.test/login?token=")
    async with world.client() as client:
        page = await client.get(link)
        assert page.status_code == 200 and 'name="token"' in page.text  # a GET never uses the link up
        response = await client.post("/login", data={"token": token_of(link)})
        assert response.status_code == 303
        assert (await client.get("/ledger")).status_code == 200


async def test_a_link_works_once(world):
    link = await world.link(OLGA)
    async with world.client() as first:
        assert (await follow(first, link)).status_code == 303
    async with world.client() as second:
        again = await second.post("/login", data={"token": token_of(link)})
        assert again.status_code == 410 and "already used" in again.text
        shown = await second.get(link)
        assert shown.status_code == 410 and "already used" in shown.text
        assert "snowrail_session" not in second.cookies


async def test_an_expired_link_is_refused_and_says_so(world):
    link = await world.link(OLGA)
    world.clock.advance(minutes=10, seconds=1)
    async with world.client() as client:
        response = await follow(client, link)
        assert response.status_code == 410 and "expired" in response.text


async def test_a_forged_or_mangled_link_is_refused_and_says_so(world):
    link = await world.link(OLGA)
    payload, mac = token_of(link).split(".")
    other = World(secret=b"o" * 32)  # another bot's secret signs a link for the same person
    forged_elsewhere = token_of(await other.link(OLGA))
    async with world.client() as client:
        for token in (payload + "." + mac[::-1], payload[:-4] + "." + mac, forged_elsewhere, "", "garbage"):
            response = await client.post("/login", data={"token": token})
            assert response.status_code == 400 and "not valid" in response.text, token


async def test_the_link_is_bound_to_one_platform_identity(world):
    """Ada's link signs in Ada on Telegram: the same person's Discord account is another identity."""
    async with world.signed_in(ADA) as client:
        page = await client.get("/treasury")
        assert page.status_code == 200 and "telegram:1" not in page.text  # her name shows, not a raw ref
        assert "Ada · admin" in page.text


async def test_the_session_cookie_is_httponly_samesite_strict_and_secure_only_over_https():
    plain = World()
    async with plain.client() as client:
        response = await follow(client, await plain.link(OLGA))
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
        assert "max-age=43200" in cookie  # WEB_SESSION_HOURS' default: 12 h
    tls = World("https://pay.example.org")
    async with tls.client() as client:
        response = await follow(client, await tls.link(OLGA))
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "; secure" in cookie


async def test_a_session_ends_after_its_hours(world):
    async with world.signed_in(OLGA) as client:
        assert (await client.get("/treasury")).status_code == 200
        world.clock.advance(hours=12, seconds=1)
        ended = await client.get("/treasury")
        assert ended.status_code == 401 and "/dashboard" in ended.text


async def test_a_member_gets_a_403_page_on_treasury_pages_and_sees_only_their_own_payments(world):
    async with world.signed_in(BOB) as client:
        for path in ("/treasury", "/batches", "/approvals", "/audit"):
            response = await client.get(path)
            assert response.status_code == 403 and "Not for your role" in response.text, path
        ledger = await client.get("/ledger?person=telegram:2")  # asking for someone else's changes nothing
        assert ledger.status_code == 200 and "Your payments" in ledger.text


async def test_an_approver_does_not_see_the_audit_log_but_an_admin_does(world):
    async with world.signed_in(APRIL) as client:
        assert (await client.get("/treasury")).status_code == 200
        assert (await client.get("/audit")).status_code == 403
    async with world.signed_in(ADA) as client:
        page = await client.get("/audit")
        assert page.status_code == 200 and "dashboard" in page.text  # the /dashboard commands are in the log


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world):
    reply = await world.say(f"/pay {ADDR} 20", OLGA)
    pid = reply.split()[1]
    async with world.signed_in(APRIL) as client:
        page = await client.get("/approvals")
        key = keys_in(page.text)[0]
        for data in ({"key": key}, {"key": key, "csrf": "x" + csrf_in(page.text)}):
            refused = await client.post(f"/approvals/{pid}/approve", data=data)
            assert refused.status_code == 403 and "CSRF" in refused.text
    assert world.db.store.approval_requests[pid].status is ApprovalStatus.WAITING and not world.db.store.votes
    assert world.chain.signed == []


async def test_another_sessions_csrf_token_is_refused(world):
    reply = await world.say(f"/pay {ADDR} 20", OLGA)
    pid = reply.split()[1]
    async with world.signed_in(ADA) as admin:
        foreign = csrf_in((await admin.get("/approvals")).text)
    async with world.signed_in(APRIL) as client:
        key = keys_in((await client.get("/approvals")).text)[0]
        refused = await client.post(f"/approvals/{pid}/approve", data={"key": key, "csrf": foreign})
        assert refused.status_code == 403
    assert not world.db.store.votes


async def test_approve_from_the_web_runs_the_chat_command_and_is_announced_in_chat(world):
    reply = await world.say(f"/pay {ADDR} 20", OLGA)
    pid = reply.split()[1]
    async with world.signed_in(APRIL) as client:
        page = await client.get("/approvals")
        assert pid in page.text and "20 CRO" in page.text and "telegram:2" in page.text
        data = {"csrf": csrf_in(page.text), "key": keys_in(page.text)[0]}
        done = await client.post(f"/approvals/{pid}/approve", data=data)
        assert done.status_code == 200 and "approved" in done.text.lower()
        again = await client.post(f"/approvals/{pid}/approve", data=data)  # the same form twice acts once
        assert again.status_code == 200
    assert world.db.store.approval_requests[pid].status is ApprovalStatus.APPROVED
    assert len(world.chain.signed) == 1
    said = [(n.user_ref, loads(n.body).plain()) for n in world.db.store.outbox if n.type is NotificationType.APPROVAL_OUTCOME]
    assert any(ref == OLGA.ref and pid in text for ref, text in said), said  # the requester hears it in chat
    assert any(e.command == "approve" and e.actor_ref == APRIL.ref and e.outcome == "ok" for e in world.db.store.audit)


async def test_reject_from_the_web_carries_the_reason(world):
    pid = (await world.say(f"/pay {ADDR} 20", OLGA)).split()[1]
    async with world.signed_in(APRIL) as client:
        page = await client.get("/approvals")
        data = {"csrf": csrf_in(page.text), "key": keys_in(page.text)[1], "reason": "wrong  address"}
        done = await client.post(f"/approvals/{pid}/reject", data=data)
        assert done.status_code == 200
    assert world.db.store.approval_requests[pid].status is ApprovalStatus.REJECTED
    said = [loads(n.body).plain() for n in world.db.store.outbox if n.user_ref == OLGA.ref]
    assert any("wrong address" in text for text in said), said


async def test_dashboard_without_a_web_side_says_what_to_set():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    engine = Engine(chain=chain, uow=db, clock=clock, policy=Policy())
    reply = await engine.handle_text("/dashboard", actor=BOB, key="k1")
    assert reply.kind == "error" and "WEB_BASE_URL" in reply.plain()
    assert not db.store.outbox


async def test_signing_out_ends_the_session_and_needs_the_csrf_token(world):
    async with world.signed_in(OLGA) as client:
        page = await client.get("/treasury")
        assert (await client.post("/logout", data={})).status_code == 403
        out = await client.post("/logout", data={"csrf": csrf_in(page.text)})
        assert out.status_code == 303
        assert (await client.get("/treasury")).status_code == 401


async def test_unknown_pages_and_methods_get_a_page_not_a_traceback(world):
    async with world.signed_in(OLGA) as client:
        missing = await client.get("/nowhere")
        assert missing.status_code == 404 and "Traceback" not in missing.text
        wrong = await client.get("/approvals/x/approve")
        assert wrong.status_code in (404, 405) and "Traceback" not in wrong.text


@pytest.mark.parametrize("hours", [1, 24])
def test_session_hours_follow_the_setting(hours):
    web = WebAccess("http://x", b"k" * 32, session_hours=hours)
    from datetime import UTC, datetime

    from core.signin import Identity, open_session, read_session

    now = datetime(2026, 11, 29, tzinfo=UTC)
    cookie, until = open_session(web, Identity("telegram", "1"), now)
    assert until - now == timedelta(hours=hours)
    assert read_session(web, cookie, until - timedelta(seconds=1)) is not None
    assert read_session(web, cookie, until) is None
