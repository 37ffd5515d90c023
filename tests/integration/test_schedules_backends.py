"""Issue 14's schedule scenarios on both real backends: the embedded default (eth-tester + SQLite, jobs inline) and
PostgreSQL + Redis (RQ queue, Redis limiter, a real RQ worker where a batch must settle) + anvil.

The clock is one the test advances (bot.bootstrap.build(clock=...)); payments are checked as balances on the chain,
and each due time as exactly one occurrence row in the database. On the embedded default the chain lives inside the
process, so "a restart" and "a second scheduler" are new engines over the same SQLite file and chain: a real process
restart there starts a new chain and an empty database by design."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import App, build
from bot.settings import Settings
from core.bulk.model import BatchStatus
from core.engine import Engine
from core.schedules.model import Occurrence, OccurrenceStatus, ScheduleStatus
from tests.fakes import FakeClock
from tests.integration.rq_workers import wait_for_workers, worker_logs
from tests.integration.test_bulk_outages import REPO, _stop, _worker, redis  # noqa: F401  (its private redis fixture)
from tests.integration.test_pay_live import OP, fresh_address, settings_for

CENT = 10**16  # 0.01 CRO
BERLIN = ZoneInfo("Europe/Berlin")


class Backend:
    """One kind of deployment, opened with the test's clock; `engine` is the scheduler the test ticks."""

    def __init__(self, kind: str, clock: FakeClock, tmp_path) -> None:
        self.kind, self.clock, self.tmp_path = kind, clock, tmp_path
        self.apps: list[App] = []
        self.workers: list[subprocess.Popen] = []
        self.settings: Settings | None = None
        self.env: dict[str, str] = {}
        self.redis_url: str | None = None
        self.engine: Engine

    async def open(self, parts: tuple) -> None:
        if self.kind == "embedded":
            self.settings = Settings(_env_file=None, data_dir=self.tmp_path, operators=OP.ref,
                                     schedule_remind_before="0m")
        else:
            stack, database, self.redis_url = parts
            self.settings = settings_for(stack.url, stack, database, self.tmp_path, REDIS_URL=self.redis_url,
                                         SCHEDULE_REMIND_BEFORE="0m")
            drop = ("DATABASE_URL", "REDIS_URL", "TOKENS", "CHAIN_ID", "RPC_URL")
            self.env = {**{k: v for k, v in os.environ.items() if k not in drop}, **stack.env(),
                        "DATABASE_URL": database, "REDIS_URL": self.redis_url, "OPERATORS": OP.ref,
                        "LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
        self.apps.append(await build(self.settings, clock=self.clock))
        self.engine = self.app.engine
        if self.kind != "embedded":
            from adapters.queue.rq_queue import RqQueue
            from adapters.limits.redis_limiter import RedisRateLimiter

            assert isinstance(self.app.queue, RqQueue)  # jobs go through Redis, to RQ workers
            assert isinstance(self.engine.limits.limiter, RedisRateLimiter)

    @property
    def app(self) -> App:
        return self.apps[0]

    async def another(self) -> Engine:
        """A second scheduler: another bot process on PostgreSQL; another engine in this process when embedded."""
        if self.kind == "embedded":
            s = self.app.engine.services
            return Engine(chain=self.app.chain, uow=self.app.uow, clock=self.clock, queue=self.app.queue,
                          policy=s.policy, bulk=s.bulk, escrow=s.escrow, prices=s.prices)
        assert self.settings is not None
        app = await build(self.settings, clock=self.clock, migrate=False)
        self.apps.append(app)
        return app.engine

    async def restart(self) -> None:
        """The scheduler stops and a new one starts, remembering only what is in the database."""
        if self.kind != "embedded":
            await self.apps.pop(0).close()
            if not self.apps:
                assert self.settings is not None
                self.apps.append(await build(self.settings, clock=self.clock, migrate=False))
            self.engine = self.app.engine
            return
        self.engine = await self.another()

    async def start_worker(self) -> None:
        if self.kind == "embedded":
            return  # jobs run inline
        assert self.redis_url is not None
        self.workers.append(_worker(self.env, self.tmp_path / f"w{len(self.workers)}.log"))
        await wait_for_workers(self.redis_url, self.workers, self.tmp_path)

    async def say(self, text: str) -> str:
        reply = await self.engine.handle_text(text, actor=OP, key="sb-" + secrets.token_hex(6))
        return reply.plain()

    async def schedule(self, text: str) -> str:
        said = await self.say(text)
        assert said.startswith("Schedule sch-"), said
        return said.split()[1].rstrip(":")

    async def tick_at(self, moment: datetime, *engines: Engine) -> None:
        self.clock.t = moment
        await asyncio.gather(*(e.tick() for e in (engines or (self.engine,))))

    async def settled(self, batch_ids: set[str]) -> None:
        """Until each batch is done: inline jobs drained here, or the RQ worker's."""
        if self.kind == "embedded":
            await self.app.queue.drain()  # an InlineQueue
        end = time.monotonic() + 60
        while True:
            async with self.app.uow() as uow:
                batches = [await uow.batches.get(b) for b in batch_ids]
            if all(b is not None and b.status is BatchStatus.DONE for b in batches):
                return
            if time.monotonic() > end:
                pytest.fail(f"batches {batch_ids} never finished\n{worker_logs(self.tmp_path)}", pytrace=False)
            await asyncio.sleep(0.1)

    async def balance(self, address: str) -> int:
        return await self.app.chain.balance(address, self.app.chain.tokens.native)

    async def occurrences(self, sid: str) -> list[Occurrence]:
        async with self.app.uow() as uow:
            found = await uow.schedules.occurrences(sid, 100)
        assert len({o.due_at for o in found}) == len(found), "two occurrences of one due time"
        assert len({o.key for o in found}) == len(found)
        return sorted(found, key=lambda o: o.due_at)

    async def status(self, sid: str) -> ScheduleStatus:
        async with self.app.uow() as uow:
            schedule = await uow.schedules.get(sid)
        assert schedule is not None
        return schedule.status

    async def close(self) -> None:
        for p in self.workers:
            _stop(p)
        for app in self.apps:
            await app.close()


KINDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("postgres+redis+anvil", id="postgres-redis-anvil",
                 marks=[pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]),
]


@pytest.fixture(params=KINDS)
def parts(request) -> tuple:
    """The real services a kind needs (resolved here, outside the event loop): anvil, a new database, a Redis."""
    if request.param == "embedded":
        return (request.param, ())
    return (request.param, (request.getfixturevalue("anvil_stack"), request.getfixturevalue("new_postgres_database")(),
                            request.getfixturevalue("redis").url))


@pytest.fixture
async def backend(parts, tmp_path):
    # A minute ahead of the wall clock: the chain's own time never runs ahead of the schedules' due times.
    clock = FakeClock(datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1))
    kind, services = parts
    b = Backend(kind, clock, tmp_path)
    try:
        await b.open(services)
        yield b
    finally:
        await b.close()


def at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


async def test_a_daily_payment_fires_three_times_once_each_as_the_clock_advances(backend):
    to = fresh_address()
    first = backend.clock.t + timedelta(days=1)
    sid = await backend.schedule(f"/pay {to} 0.01 CRO every day at {first:%H:%M} from {first:%Y-%m-%d}")
    for day in range(3):
        due = first + timedelta(days=day)
        await backend.tick_at(due - timedelta(minutes=1))  # not yet
        await backend.tick_at(due)
        await backend.tick_at(due + timedelta(seconds=1))  # a second pass finds nothing more
        assert await backend.balance(to) == (day + 1) * CENT
    occ = await backend.occurrences(sid)
    assert [o.due_at for o in occ] == [first + timedelta(days=d) for d in range(3)]
    assert all(o.status is OccurrenceStatus.PAYING and o.intent_id for o in occ)


async def test_a_restart_between_occurrences_pays_each_once(backend):
    to = fresh_address()
    first = backend.clock.t + timedelta(hours=2)
    sid = await backend.schedule(f"/pay {to} 0.01 CRO every day at {first:%H:%M} from {first:%Y-%m-%d} times 3")
    await backend.tick_at(first)
    await backend.restart()
    await backend.tick_at(first)  # the same moment again after the restart, as a clock that went back
    await backend.tick_at(first + timedelta(days=1, minutes=3))
    await backend.restart()
    await backend.tick_at(first + timedelta(days=2))
    await backend.tick_at(first + timedelta(days=9))
    assert await backend.balance(to) == 3 * CENT
    assert len(await backend.occurrences(sid)) == 3 and await backend.status(sid) is ScheduleStatus.DONE


async def test_two_schedulers_ticking_together_pay_each_occurrence_once(backend):
    await backend.start_worker()  # runs due together share a batch, settled by a worker (inline when embedded)
    other = await backend.another()
    due = backend.clock.t + timedelta(hours=3)
    many = [fresh_address() for _ in range(3)]
    ids = [await backend.schedule(f"/pay {a} 0.01 CRO at {at(due)}") for a in many]
    lone = fresh_address()
    daily = await backend.schedule(f"/pay {lone} 0.02 CRO every day at {due + timedelta(minutes=1):%H:%M} "
                                   f"from {due + timedelta(minutes=1):%Y-%m-%d}")
    await backend.tick_at(due + timedelta(minutes=1), backend.engine, other, backend.engine, other)
    batches = {o.batch_id for sid in ids for o in await backend.occurrences(sid)}
    assert len(batches) == 1 and None not in batches
    await backend.settled(batches)
    assert [await backend.balance(a) for a in many] == [CENT] * 3
    assert await backend.balance(lone) == 2 * CENT
    await backend.tick_at(due + timedelta(days=1, minutes=1), other, backend.engine)
    assert await backend.balance(lone) == 4 * CENT
    assert len(await backend.occurrences(daily)) == 2
    assert [len(await backend.occurrences(sid)) for sid in ids] == [1, 1, 1]


def next_spring_forward(after: datetime) -> datetime:
    """Midnight (Berlin) of the day whose night the clocks jump from CET to CEST."""
    day = after.astimezone(BERLIN).replace(hour=12, minute=0, second=0, microsecond=0)
    while (day + timedelta(days=1)).utcoffset() == day.utcoffset():
        day = (day + timedelta(days=1)).replace(hour=12)
        day = day.astimezone(BERLIN)
    return (day + timedelta(days=1)).replace(hour=0)


async def test_across_the_berlin_daylight_saving_change_nine_oclock_stays_nine_oclock(backend):
    change = next_spring_forward(backend.clock.t)
    start = (change - timedelta(days=1)).replace(hour=1).astimezone(UTC)  # the day before, 01:00 CET
    backend.clock.t = start
    await backend.say("/tz Europe/Berlin")
    to = fresh_address()
    sid = await backend.schedule(f"/pay {to} 0.01 CRO every day at 09:00 from {change - timedelta(days=1):%Y-%m-%d}")
    moment = start
    while moment < start + timedelta(hours=36):  # every hour through the day before and the day of the change
        moment += timedelta(hours=1)
        await backend.tick_at(moment)
    occ = await backend.occurrences(sid)
    assert [o.due_at.astimezone(BERLIN).strftime("%d %H:%M %Z") for o in occ] == [
        f"{change - timedelta(days=1):%d} 09:00 CET", f"{change:%d} 09:00 CEST"]
    assert occ[1].due_at - occ[0].due_at == timedelta(hours=23)  # the night was an hour short
    assert await backend.balance(to) == 2 * CENT


async def test_pause_stops_runs_resume_passes_over_them_and_skip_passes_one(backend):
    to = fresh_address()
    first = backend.clock.t + timedelta(hours=1)
    day = timedelta(days=1)
    sid = await backend.schedule(f"/pay {to} 0.01 CRO every day at {first:%H:%M} from {first:%Y-%m-%d}")
    assert "Paused" in await backend.say(f"/schedule pause {sid}")
    await backend.tick_at(first + timedelta(minutes=5))
    assert await backend.occurrences(sid) == [] and await backend.balance(to) == 0
    assert "Resumed" in await backend.say(f"/schedule resume {sid}")  # today's run is not paid late
    assert "Skipping the run" in await backend.say(f"/schedule skip {sid}")
    await backend.tick_at(first + day)
    await backend.tick_at(first + 2 * day)
    occ = await backend.occurrences(sid)
    assert [o.status for o in occ] == [OccurrenceStatus.SKIPPED, OccurrenceStatus.PAYING]
    assert await backend.balance(to) == CENT
    assert "Cancelled" in await backend.say(f"/schedule cancel {sid}")
    await backend.tick_at(first + 3 * day)
    assert len(await backend.occurrences(sid)) == 2 and await backend.balance(to) == CENT


async def test_a_run_missed_beyond_the_grace_window_is_reported_and_never_paid(backend):
    to = fresh_address()
    first = backend.clock.t + timedelta(hours=1)
    sid = await backend.schedule(f"/pay {to} 0.01 CRO every day at {first:%H:%M} from {first:%Y-%m-%d}")
    await backend.restart()  # the bot was down across two due times; it returns two days and an hour late
    await backend.tick_at(first + timedelta(days=2, hours=1))
    occ = await backend.occurrences(sid)
    assert [o.status for o in occ] == [OccurrenceStatus.MISSED, OccurrenceStatus.MISSED, OccurrenceStatus.PAYING]
    assert await backend.balance(to) == CENT  # only the run within the 24 h grace window
    await backend.tick_at(first + timedelta(days=2, hours=2))
    assert await backend.balance(to) == CENT and len(await backend.occurrences(sid)) == 3
