"""The jobs RQ runs. Each is a small sync function around one asyncio.run (asyncpg pools belong to one loop)."""

from __future__ import annotations

import asyncio

from bot.bootstrap import build
from bot.notifiers import notifiers_for
from bot.settings import Settings, load_settings


def worker_settings() -> Settings:
    """A job works on the bot's own chain and database, never on an embedded default of its own."""
    settings = load_settings()
    settings.require("database_url", "rpc_url")
    return settings


def deliver_notifications(limit: int = 200) -> int:
    """Deliver pending outbox rows for every platform this worker has a sender for. Safe to repeat."""
    return asyncio.run(_deliver(limit))


async def _deliver(limit: int) -> int:
    settings = worker_settings()
    app = await build(settings, migrate=False)
    try:
        sent = 0
        notifiers = notifiers_for(settings, app.uow)  # type: ignore[arg-type]
        try:
            for platform, notifier in notifiers.items():
                sent += await app.engine.deliver_notifications(notifier, platform=platform, limit=limit)
        finally:
            for notifier in notifiers.values():
                close = getattr(notifier, "close", None)  # senders holding an HTTP session
                if close is not None:
                    await close()
        return sent
    finally:
        await app.close()


def reconcile() -> int:
    return asyncio.run(_reconcile())


async def _reconcile() -> int:
    app = await build(worker_settings(), migrate=False)
    try:
        return await app.engine.reconcile()
    finally:
        await app.close()
