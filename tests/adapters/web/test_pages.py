"""The dashboard's pages over HTTP (the real Starlette app, fakes at the engine's ports): what each shows, and the
buttons that run the same engine commands as chat."""

from __future__ import annotations

import re

import pytest

from core.escrow.model import EscrowStatus
from core.schedules.model import ScheduleStatus
from tests.adapters.web.helpers import ADA, ADDR, BOB, OLGA, World, csrf_in, keys_in


@pytest.fixture
def world() -> World:
    return World()


async def test_the_treasury_shows_balances_gas_allowance_and_todays_spending_as_an_svg_chart(world):
    assert "Payment" in await world.say(f"/pay {ADDR} 3 CRO", OLGA)
    async with world.signed_in(OLGA) as client:
        page = await client.get("/treasury")
    assert page.status_code == 200
    assert "<td>CRO</td>" in page.text and "<td>USDC</td>" in page.text
    assert 'id="gas"' in page.text and world.chain.executor in page.text
    assert "<svg" in page.text and "CRO paid per day" in page.text and "3 CRO" in page.text  # the day's bar title
    assert "<script>" not in page.text  # the chart is drawn by the server: it shows with JavaScript off


async def test_pause_resume_and_cancel_a_schedule_from_the_page(world):
    said = await world.say(f"/pay {ADDR} 1 CRO every month on the 1st at 09:00", OLGA)
    sid = re.search(r"sch-[a-z0-9]{8}", said)
    assert sid, said
    async with world.signed_in(OLGA) as client:
        for action, status in (("pause", ScheduleStatus.PAUSED), ("resume", ScheduleStatus.ACTIVE),
                               ("cancel", ScheduleStatus.CANCELLED)):
            page = await client.get("/schedules")
            assert sid.group(0) in page.text
            key = next(k for k in keys_in(page.text) if k.endswith(f"-{action}"))
            done = await client.post(f"/schedules/{sid.group(0)}/{action}", data={"csrf": csrf_in(page.text), "key": key})
            assert done.status_code == 200, done.text
            assert world.db.store.schedules[sid.group(0)].status is status, (action, done.text[-600:])
        bad = await client.post(f"/schedules/{sid.group(0)}/explode", data={"csrf": csrf_in(page.text), "key": "web-x"})
        assert bad.status_code == 400 and "action:" in bad.text
    # The web's keys ("web-…") in the audit log, as chat's /schedule would leave them; the refused action ran nothing.
    assert [e.outcome for e in world.db.store.audit if e.key.startswith("web-")] == ["ok", "ok", "ok"]


async def test_a_member_sees_and_cancels_their_own_intent(world):
    said = await world.say(f"/pay {ADDR} 5 CRO", BOB)  # a member's /pay is an intent they fund themselves
    iid = re.search(r"int-[a-z0-9]{8}", said)
    assert iid, said
    async with world.signed_in(BOB) as client:
        page = await client.get("/intents")
        assert page.status_code == 200 and iid.group(0) in page.text and "5 CRO" in page.text
        done = await client.post(f"/intents/{iid.group(0)}/cancel", data={"csrf": csrf_in(page.text), "key": keys_in(page.text)[0]})
        assert done.status_code == 200
    assert world.db.store.escrows[iid.group(0)].status is EscrowStatus.CANCELLED
    async with world.signed_in(OLGA) as client:  # the team sees open intents: this one is closed now
        assert iid.group(0) not in (await client.get("/intents")).text


async def test_notifications_show_read_and_unread_and_never_the_sign_in_link(world):
    await world.say(f"/pay {ADDR} 20", OLGA)  # above the threshold: the approver and admin are asked
    async with world.signed_in(ADA) as client:
        page = await client.get("/notifications")
        assert page.status_code == 200 and "unread" in page.text and "approval" in page.text
        assert "A dashboard sign-in link was sent to you." in page.text and "token=" not in page.text
        read = await client.post("/notifications/read", data={"csrf": csrf_in(page.text)})
        assert read.status_code == 200 and "(0 unread)" in read.text


async def test_batches_list_and_a_batch_page_with_its_rows_and_progress(world):
    preview = await world.engine.bulk_upload(OLGA, "up-1", "pay.csv", f"recipient,amount,token\n{ADDR},1,CRO\n{ADDR},2,USDC\n".encode())
    batch_id = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
    async with world.signed_in(OLGA) as client:
        listing = await client.get("/batches")
        assert listing.status_code == 200 and batch_id in listing.text and "pay.csv" in listing.text
        page = await client.get(f"/batches/{batch_id}")
        assert page.status_code == 200 and 'id="progress-percent">0%' in page.text
        assert f'data-events="/batches/{batch_id}/events"' in page.text and page.text.count("<tr class=") == 2
        missing = await client.get("/batches/blk-nothere")
        assert missing.status_code == 400 and "no bulk batch" in missing.text
    async with world.signed_in(BOB) as client:
        assert (await client.get(f"/batches/{batch_id}")).status_code == 403
        assert (await client.get(f"/batches/{batch_id}/events")).status_code == 403


async def test_links_and_forms_follow_the_base_urls_path_behind_a_proxy():
    world = World("https://pay.example.org/treasury-desk")
    link = await world.link(OLGA)
    assert link.startswith("https://pay.example.org/treasury-desk/login?token=")
    async with world.signed_in(OLGA) as client:
        page = await client.get("/treasury-desk/treasury")
        assert 'href="/treasury-desk/ledger"' in page.text and 'action="/treasury-desk/logout"' in page.text


async def test_what_people_typed_is_escaped_on_every_page(world):
    from core.commands import Actor

    mallory = Actor("telegram", "66", "<script>alert(1)</script>", "mallory")
    async with world.signed_in(mallory) as client:
        page = await client.get("/notifications")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")  # no inline script would run anyway
