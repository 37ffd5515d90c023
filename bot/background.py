"""The loops beside a running bot, and the one runner both chat modes share: sweep, reconcile, signals, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from functools import partial
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from bot import health
from core.engine import Engine
from core.ports import Notifier

if TYPE_CHECKING:  # bootstrap builds the loops below into the App
    from bot.bootstrap import App

log = logging.getLogger("snowrail.background")

RECONCILE_SECONDS = 15.0  # signed payments without a receipt are looked at this often (stuck ones replaced)
TICK_SECONDS = 0.25  # the due-time loop (Engine.tick): escrow events and conditions, due schedules
SWEEP_SECONDS = 5.0  # how often a bot without workers looks for undelivered notifications


async def every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `job` now and then every `seconds`, forever; a failure is logged and the loop goes on."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(seconds)


class Periodic:
    """`job` run now and then every `seconds` on the running loop, from start() until stop()."""

    def __init__(self, seconds: float, job: Callable[[], Awaitable[object]], what: str) -> None:
        self.seconds, self.job, self.what = seconds, job, what
        self.task: asyncio.Task[None] | None = None

    def start(self) -> Periodic:
        self.task = asyncio.get_running_loop().create_task(every(self.seconds, self.job, self.what), name=self.what)
        return self

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Deliveries:
    """Notification delivery by this process, for when jobs run inline: no worker exists to deliver them. The
    chat runner names its notifier and platform; until one does (console, CLI), a delivery job does nothing
    (the console delivers after each message itself)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.notifier: Notifier | None = None
        self.platform: str | None = None
        self._lock = asyncio.Lock()  # one delivery at a time: a job and the sweep may fire together

    def serve(self, notifier: Notifier, platform: str) -> None:
        self.notifier, self.platform = notifier, platform

    async def __call__(self) -> int:
        if self.notifier is None:
            return 0
        async with self._lock:
            return await self.engine.deliver_notifications(self.notifier, platform=self.platform)


class Stoppable(Protocol):
    async def stop(self) -> None: ...


class ChatRunner:
    """What runs beside a chat frontend (Telegram or Discord), and its shutdown, the same for both. When jobs run
    inline (no Redis, or a chain or database a worker cannot share, such as REDIS_URL without DATABASE_URL), no
    worker exists to deliver notifications, so this process delivers its own platform's: on every delivery job
    and in a sweep. With RQ, workers deliver. Payments are reconciled in either case."""

    def __init__(self, app: App, notifier: Notifier, platform: str) -> None:
        self.app, self.notifier, self.platform = app, notifier, platform
        self.loops = [Periodic(RECONCILE_SECONDS, app.engine.reconcile, "reconcile"),
                      Periodic(TICK_SECONDS, app.engine.tick, "due-time loop")]
        if app.inline:
            self.loops.insert(0, Periodic(SWEEP_SECONDS, app.deliveries, "notification sweep"))
        if health.sampling(app):  # HEALTH_PORT: balances and the nonce gap for /metrics
            self.loops.append(Periodic(health.SAMPLE_SECONDS, partial(health.sample, app), "metrics sample"))

    def start(self) -> None:
        """Once the frontend is up: its notifier can send."""
        if self.app.inline:
            self.app.deliveries.serve(self.notifier, self.platform)
        for loop in self.loops:
            loop.start()

    async def stop(self, stop_receiving: Callable[[], Awaitable[None]], close_frontend: Callable[[], Awaitable[None]],
                   *, close_app: bool = True) -> None:
        """The loops, then the frontend stops taking messages, then the app closes (it drains inline jobs, whose
        deliveries still need the frontend's connection), and only then does the frontend close that."""
        for loop in reversed(self.loops):
            await loop.stop()
        try:
            await stop_receiving()
            if close_app:
                await self.app.close()
        finally:
            await close_frontend()


async def until_signalled(bot: Stoppable, *, connection: asyncio.Task[None] | None = None) -> int:
    """Run until SIGINT or SIGTERM (or until the frontend's `connection` ends), then stop the bot. A connection
    that failed stops the bot too, and its error is raised after."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({waiter, *([connection] if connection else [])}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        failure = connection.exception() if connection and connection.done() and not connection.cancelled() else None
        await bot.stop()
    if failure is not None:
        raise failure
    return 0
