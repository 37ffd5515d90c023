"""The jobs RQ runs. Each is a small sync function taking ids, run on its worker process's one app and loop."""

from __future__ import annotations

from contextlib import AsyncExitStack

from bot.bootstrap import App
from bot.notifiers import notifiers_for
from workers import process

__all__ = ["deliver_notifications", "reconcile"]


def deliver_notifications(limit: int = 200) -> int:
    """Deliver pending outbox rows for every platform this worker has a sender for. Safe to repeat."""

    async def deliver(app: App) -> int:
        sent = 0
        async with AsyncExitStack() as senders:
            for platform, notifier in notifiers_for(app.settings, app.uow, senders).items():
                sent += await app.engine.deliver_notifications(notifier, platform=platform, limit=limit)
        return sent

    return process.run(deliver)


def reconcile() -> int:
    async def run(app: App) -> int:
        return await app.engine.reconcile()

    return process.run(run)
