"""M-of-N approvals on the real stack: two bot processes (two builds) on one PostgreSQL database and anvil.

Concurrent last approvals sign exactly one transaction; a restart between approvals loses nothing and pays
nothing twice; an approval racing the requester's /cancel pays at most once, and the replies say what happened."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from bot.bootstrap import build
from core.commands import Actor
from core.model import ApprovalStatus, IntentStatus, NotificationType
from tests.fakes import RecordingQueue
from tests.integration.test_pay_live import OP, balance, fresh_address, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

A1, A2, A3 = (Actor("telegram", f"9{n}{secrets.token_hex(3).translate(str.maketrans('abcdef', '123456'))}")
              for n in range(3))
APPROVAL = {"APPROVAL_THRESHOLD": "CRO=0.01", "APPROVALS_REQUIRED": "2", "APPROVERS": f"{A1.ref},{A2.ref},{A3.ref}"}
AMOUNT = 2 * 10**16  # 0.02 CRO: above the threshold


async def two_apps(anvil_stack, database: str, tmp_path):
    first = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "a", **APPROVAL),
                        queue=RecordingQueue())
    second = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "b", **APPROVAL),
                         queue=RecordingQueue(), migrate=False)
    return first, second


async def ask(app, to: str) -> str:
    reply = await app.engine.handle_text(f"/pay {to} 0.02", actor=OP, key="ap-" + secrets.token_hex(6))
    assert "awaiting approval (0 of 2)" in reply.plain(), reply.plain()
    return reply.plain().split()[1]


async def say(app, text: str, actor: Actor):
    return await app.engine.handle_text(text, actor=actor, key="ap-" + secrets.token_hex(6))


async def attempts(app, pid: str) -> int:
    async with app.uow() as uow:
        return len(await uow.intents.attempts(pid))


async def test_concurrent_last_approvals_in_two_processes_sign_one_transaction(anvil_stack, new_postgres_database, tmp_path):
    first, second = await two_apps(anvil_stack, new_postgres_database(), tmp_path)
    try:
        for round_ in range(3):
            to = fresh_address()
            pid = await ask(first, to)
            async with first.uow() as uow:
                asked = sorted(n.user_ref for n in await uow.outbox.pending(100)
                               if n.type is NotificationType.APPROVAL_REQUEST and pid in n.dedup_key)
            assert asked == sorted(a.ref for a in (A1, A2, A3))
            assert (await say(first, f"/approve {pid}", A1)).kind == "ok"
            # Two approvers press at once, in two processes: one is the second approval, the other is too late.
            r2, r3 = await asyncio.gather(say(first, f"/approve {pid}", A2), say(second, f"/approve {pid}", A3))
            texts = sorted([r2.plain(), r3.plain()], key=lambda t: "Approved (2 of 2)" not in t)
            assert "Approved (2 of 2)" in texts[0] and "confirmed" in texts[0].lower(), (round_, texts)
            assert texts[1].startswith("Too late to approve:") and "already approved (2 of 2)" in texts[1], texts
            assert await attempts(first, pid) == 1
            assert balance(anvil_stack.url, to) == AMOUNT
            async with second.uow() as uow:
                votes = await uow.approvals.votes(pid)
                req = await uow.approvals.get(pid)
            assert len(votes) == 2 and req is not None and req.status is ApprovalStatus.APPROVED
    finally:
        await second.close()
        await first.close()


async def test_a_restart_between_approvals_loses_nothing_and_pays_once(anvil_stack, new_postgres_database, tmp_path):
    database = new_postgres_database()
    to = fresh_address()
    app = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "a", **APPROVAL),
                      queue=RecordingQueue())
    try:
        pid = await ask(app, to)
        assert "1 of 2" in (await say(app, f"/approve {pid}", A1)).plain()
    finally:
        await app.close()
    again = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "b", **APPROVAL),
                        queue=RecordingQueue(), migrate=False)
    try:
        twice = await say(again, f"/approve {pid}", A1)
        assert twice.plain().startswith(f"You already approved {pid}"), twice.plain()
        assert "1 of 2" in (await say(again, "/pending", A2)).plain()
        paid = await say(again, f"/approve {pid}", A2)
        assert "Approved (2 of 2)" in paid.plain(), paid.plain()
        assert (await say(again, f"/approve {pid}", A3)).kind == "error"
        await again.engine.reconcile()
        assert await attempts(again, pid) == 1 and balance(anvil_stack.url, to) == AMOUNT
        async with again.uow() as uow:
            intent = await uow.intents.get(pid)
        assert intent is not None and intent.status is IntentStatus.CONFIRMED
    finally:
        await again.close()


async def test_an_approval_racing_a_cancel_pays_at_most_once_and_replies_match(anvil_stack, new_postgres_database, tmp_path):
    first, second = await two_apps(anvil_stack, new_postgres_database(), tmp_path)
    outcomes = set()
    try:
        for _ in range(4):
            to = fresh_address()
            pid = await ask(first, to)
            await say(first, f"/approve {pid}", A1)
            cancel, approve = await asyncio.gather(
                first.engine.handle_text(f"/cancel {pid}", actor=OP, key="c-" + secrets.token_hex(6)),
                say(second, f"/approve {pid}", A2),
            )
            async with first.uow() as uow:
                intent = await uow.intents.get(pid)
            assert intent is not None
            if cancel.kind != "error":
                assert "Cancelled. Nothing was paid." in cancel.plain()
                assert approve.kind == "error" and "cancelled by its requester" in approve.plain(), approve.plain()
                assert intent.status is IntentStatus.CANCELLED and balance(anvil_stack.url, to) == 0
                outcomes.add("cancelled")
            else:
                assert "cannot be cancelled" in cancel.plain(), cancel.plain()
                assert "Approved (2 of 2)" in approve.plain(), approve.plain()
                assert intent.status is IntentStatus.CONFIRMED and balance(anvil_stack.url, to) == AMOUNT
                outcomes.add("paid")
            assert await attempts(first, pid) <= 1
    finally:
        await second.close()
        await first.close()
    assert outcomes  # which side wins each race is up to the scheduler; both are checked when they happen


async def test_a_batch_above_the_threshold_starts_once_after_two_approvals_in_two_processes(anvil_stack, new_postgres_database, tmp_path):
    database = new_postgres_database()
    first = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "a", **APPROVAL))
    second = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "b", **APPROVAL), migrate=False)
    try:
        people = [fresh_address() for _ in range(3)]
        data = ("recipient,amount,token\n" + "".join(f"{a},0.01,CRO\n" for a in people)).encode()  # 0.03 CRO > 0.01
        preview = await first.engine.bulk_upload(OP, "ap-" + secrets.token_hex(6), "team.csv", data)
        bid = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
        waits = await say(first, f"/bulk execute {bid}", OP)
        assert f"Bulk payout {bid} awaiting approval (0 of 2)" in waits.plain(), waits.plain()
        assert (await say(second, f"/approve {bid}", A1)).kind == "ok"
        r2, r3 = await asyncio.gather(say(first, f"/approve {bid}", A2), say(second, f"/approve {bid}", A3))
        texts = sorted([r2.plain(), r3.plain()], key=lambda t: "Approved (2 of 2)" not in t)
        assert "Approved (2 of 2)" in texts[0] and "started" in texts[0], texts
        assert texts[1].startswith("Too late to approve:"), texts
        for app in (first, second):
            await app.queue.drain()
        async with first.uow() as uow:
            batch = await uow.batches.get(bid)
            chunks = await uow.batches.chunks(bid)
        assert batch is not None and batch.status.value == "done" and batch.paid == 3 and len(chunks) == 1
        assert [balance(anvil_stack.url, a) for a in people] == [10**16] * 3
    finally:
        await second.close()
        await first.close()


async def test_two_processes_cannot_both_squeeze_under_the_daily_limit(anvil_stack, new_postgres_database, tmp_path):
    database = new_postgres_database()
    limit = {**APPROVAL, "APPROVAL_THRESHOLD": "", "OPERATOR_DAILY_LIMIT": "CRO=0.03"}
    first = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "a", **limit), queue=RecordingQueue())
    second = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "b", **limit),
                         queue=RecordingQueue(), migrate=False)
    try:
        for _ in range(3):
            to = fresh_address()
            replies = await asyncio.gather(*(say(app, f"/pay {to} 0.02", OP) for app in (first, second)))
            paid = [r for r in replies if r.kind == "ok" and "awaiting" not in r.plain()]
            held = [r for r in replies if "daily limit" in r.plain() or "at this very moment" in r.plain()]
            assert len(paid) <= 1 and len(paid) + len(held) == 2, [r.plain() for r in replies]
            assert balance(anvil_stack.url, to) == AMOUNT * len(paid)
        async with first.uow() as uow:
            spent = await uow.intents.spent_since(OP.ref, datetime.now(UTC) - timedelta(hours=24))
        assert sum(s.amount for s in spent if s.token == "CRO") >= AMOUNT  # the first one that went through counts
    finally:
        await second.close()
        await first.close()
