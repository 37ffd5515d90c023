"""The jobs RQ runs. Each is a small sync function around one asyncio.run (asyncpg pools belong to one loop)."""

from __future__ import annotations

import asyncio

from bot.bootstrap import build
from bot.notifiers import notifiers_for
from bot.settings import load_settings


def deliver_notifications(limit: int = 200) -> int:
    """Deliver pending outbox rows for every platform this worker has a sender for. Safe to repeat."""
    return asyncio.run(_deliver(limit))


async def _deliver(limit: int) -> int:
    settings = load_settings()
    app = await build(settings, migrate=False)
    try:
        sent = 0
        for platform, notifier in notifiers_for(settings).items():
            sent += await app.engine.deliver_notifications(notifier, platform=platform, limit=limit)
        return sent
    finally:
        await app.close()


def reconcile() -> int:
    return asyncio.run(_reconcile())


async def _reconcile() -> int:
    app = await build(load_settings(), migrate=False)
    try:
        return await app.engine.reconcile()
    finally:
        await app.close()
