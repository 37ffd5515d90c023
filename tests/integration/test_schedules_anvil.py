"""Schedules on the real stack: two bot processes (two builds) ticking one PostgreSQL database, paying on anvil.

Two schedulers ticking at the same instant never pay an occurrence twice, and a restart between occurrences
loses nothing and repeats nothing. The clock is one we set (a test clock in each build's services), the chain
and the database are real."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from bot.bootstrap import build
from core.bulk import settle as bulk_settle
from core.jobs import Job
from core.schedules.model import OccurrenceStatus
from tests.fakes import FakeClock, RecordingQueue
from tests.integration.test_pay_live import OP, balance, fresh_address, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]


async def app_on(anvil_stack, database: str, path, clock: FakeClock, *, migrate: bool = True):
    app = await build(settings_for(anvil_stack.url, anvil_stack, database, path, SCHEDULE_REMIND_BEFORE="0m"),
                      queue=RecordingQueue(), migrate=migrate, clock=clock)  # due times come when the test says
    return app


async def tick(app) -> int:
    moved = await app.engine.tick()
    queue = app.queue
    while queue.jobs:
        job, args, _ = queue.jobs.pop(0)
        if job is Job.BULK_SETTLE:
            await bulk_settle.work(app.engine.services, *args)
    return moved


async def test_two_schedulers_and_a_restart_pay_each_occurrence_once(anvil_stack, new_postgres_database, tmp_path):
    database = new_postgres_database()
    clock = FakeClock(datetime.now(UTC).replace(second=0, microsecond=0))
    first = await app_on(anvil_stack, database, tmp_path / "a", clock)
    second = await app_on(anvil_stack, database, tmp_path / "b", clock, migrate=False)
    third = None
    try:
        due = clock.t + timedelta(days=1)
        many = [fresh_address() for _ in range(4)]  # due together: one batch
        lone = fresh_address()  # a daily repeat, alone at its due time: the single-payment path
        for address in many:
            reply = await first.engine.handle_text(f"/pay {address} 0.01 CRO at {due:%Y-%m-%d %H:%M}", actor=OP,
                                                   key="sc-" + secrets.token_hex(6))
            assert reply.plain().startswith("Schedule sch-"), reply.plain()
        reply = await second.engine.handle_text(f"/pay {lone} 0.02 CRO every day at {due + timedelta(minutes=1):%H:%M} "
                                                f"from {due + timedelta(minutes=1):%Y-%m-%d}",
                                                actor=OP, key="sc-" + secrets.token_hex(6))
        assert reply.plain().startswith("Schedule sch-"), reply.plain()

        clock.t = due + timedelta(minutes=1)
        await asyncio.gather(tick(first), tick(second), tick(first), tick(second))
        assert all(balance(anvil_stack.url, a) == 10**16 for a in many)
        assert balance(anvil_stack.url, lone) == 2 * 10**16

        await first.close()
        third = await app_on(anvil_stack, database, tmp_path / "c", clock, migrate=False)  # a restart
        await asyncio.gather(tick(third), tick(second))  # the same instant again: nothing new is due
        clock.t += timedelta(days=1)
        await asyncio.gather(tick(third), tick(second))
        assert balance(anvil_stack.url, lone) == 4 * 10**16  # the second day's run, once
        assert all(balance(anvil_stack.url, a) == 10**16 for a in many)
        async with third.uow() as uow:
            paying = await uow.schedules.occurrences_with(OccurrenceStatus.PAYING, 100)
        assert len(paying) == 6 and len({o.key for o in paying}) == 6
    finally:
        for app in (second, third):
            if app is not None:
                await app.close()
