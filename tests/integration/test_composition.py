"""The composition root: App.close() closes what build() made, the last-built first; a worker process builds its
app once, for every job it runs, and starts no watcher."""

from __future__ import annotations

import asyncio

import pytest

from adapters.db.migrate import upgrade
from bot.bootstrap import build
from bot.settings import Settings
from core.jobs import Job
from workers import jobs, process


class Resource:
    """Something the app holds open; records when it is closed."""

    def __init__(self, name: str, closed: list[str]) -> None:
        self.name, self.closed = name, closed

    async def __aenter__(self) -> Resource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed.append(self.name)


async def test_app_close_closes_last_built_first_and_drains_inline_jobs_before_the_database(tmp_path):
    app = await build(Settings(_env_file=None, data_dir=tmp_path))
    closed: list[str] = []
    for name in ("first", "second", "third"):
        await app.resources.enter_async_context(Resource(name, closed))

    async def slow_reconcile() -> int:
        await asyncio.sleep(0.1)
        settled = await app.engine.reconcile()  # the database and the chain are still open
        closed.append("inline job")
        return settled

    app.jobs[Job.RECONCILE] = slow_reconcile
    app.queue.enqueue(Job.RECONCILE)
    await app.close()
    assert closed == ["third", "second", "first", "inline job"]


def test_a_worker_process_builds_its_app_once_for_all_its_jobs(anvil_stack, tmp_path, monkeypatch):
    database = f"sqlite+aiosqlite:///{tmp_path / 'worker.sqlite3'}"
    asyncio.run(upgrade(database))
    monkeypatch.chdir(tmp_path)  # no .env file of the developer's
    for name, value in {**anvil_stack.env(), "DATABASE_URL": database, "DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    process.close()  # a process app another test left behind would count as built already
    before = process.builds
    try:
        assert jobs.reconcile() == 0
        assert jobs.deliver_notifications() == 0
        assert jobs.reconcile() == 0
        assert process.builds == before + 1
        app = process.current_app()
        assert app is not None and app.mixer_watch is None and app.settings.database_url == database
    finally:
        process.close()
    assert process.current_app() is None


def test_a_job_fails_plainly_without_the_bots_database(tmp_path, monkeypatch):
    """A worker never falls back to an embedded chain or database of its own."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "RPC_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Exception, match="DATABASE_URL"):
        jobs.reconcile()
    process.close()
