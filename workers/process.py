"""The app of one worker process: built by its first job, on an event loop that lives as long as the process."""

from __future__ import annotations

import asyncio
import atexit
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.bootstrap import App, build
from bot.settings import Settings, load_settings

T = TypeVar("T")

_prepared: Settings | None = None  # the worker's settings, read by prepare() before RQ forks
builds = 0  # apps this process built: one, however many jobs it ran (RQ's forking Worker runs one per process)


def worker_settings() -> Settings:
    """A job works on the bot's own chain and database, never on an embedded default of its own."""
    settings = _prepared.model_copy() if _prepared is not None else load_settings()
    settings.require("database_url", "rpc_url")
    return settings


class _Process:
    """One loop for every job of the process (asyncpg pools and HTTP sessions belong to the loop that made
    them), and the app built on it."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.app: App | None = None

    async def app_for_job(self) -> App:
        global builds
        if self.app is None:
            # No watchers: the bot's processes watch the chain; a worker only runs the jobs it is given.
            self.app = await build(worker_settings(), migrate=False, watch=False)
            builds += 1
        return self.app

    def close(self) -> None:
        try:
            if self.app is not None:
                self.runner.run(self.app.close())
        finally:
            self.app = None
            self.runner.close()


def prepare(settings: Settings | None = None) -> None:
    """Done once in the worker process before RQ forks a process per job, so each job starts warm: loads every
    module an app build would load (web3 and eth_account alone cost ~1 s of CPU) and configures the ORM's
    mappers. Connection-free: a job process still opens its own node, database and Redis connections."""
    import importlib

    global _prepared
    settings = _prepared = settings or load_settings()  # read once: the environment is the parent's
    modules = ["adapters.chain", "adapters.chain.escrow", "adapters.chain.prices", "adapters.db",
               "adapters.db.mixer_repositories", "adapters.mixer", "adapters.queue.rq_queue",
               "adapters.limits.redis_limiter", "bot.health", "bot.keys", "workers.jobs", "workers.registry",
               "coincurve"]  # eth_keys' signing backend, loaded on the first key use
    if settings.telegram_bot_token:
        modules.append("adapters.telegram")
    if settings.discord_bot_token:
        modules.append("adapters.discord")
    if settings.database_url and settings.database_url.startswith("postgres"):
        modules.append("asyncpg")  # the dialect loads its driver when the job's engine is made
    for name in modules:
        importlib.import_module(name)
    from sqlalchemy.orm import configure_mappers

    configure_mappers()  # else each job process configures them again on its first query


_current: _Process | None = None
# A forked child holds its parent's loop and connections: it must neither use nor close them (closing would
# end the parent's sessions too), so it keeps them here, untouched, and builds its own.
_inherited: list[_Process] = []


def run(job: Callable[[App], Awaitable[T]]) -> T:
    """Run one job, on the process's loop, with the process's app (built by the first job to need it)."""
    global _current
    if _current is None:
        _current = _Process()
    process = _current

    async def with_app() -> T:
        return await job(await process.app_for_job())

    return process.runner.run(with_app())


def current_app() -> App | None:
    """The app this process built, if it has one now."""
    return _current.app if _current is not None else None


def close() -> None:
    """Close the process's app and loop (at exit; a later job would build them again)."""
    global _current
    process, _current = _current, None
    if process is not None:
        process.close()


def _forget_after_fork() -> None:
    global _current
    if _current is not None:
        _inherited.append(_current)
        _current = None


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(close)
