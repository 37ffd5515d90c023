"""A bot process with no chat front end, for tests that SIGKILL it: the due-time loop and reconcile, as ChatRunner runs them.

Run as `python -m tests.integration.escrow_watcher` with the bot's settings in the environment.
"""

from __future__ import annotations

import asyncio

from bot.background import RECONCILE_SECONDS, TICK_SECONDS, Periodic
from bot.bootstrap import build
from bot.settings import load_settings


async def main() -> None:
    app = await build(load_settings())
    loops = [Periodic(RECONCILE_SECONDS, app.engine.reconcile, "reconcile").start(),
             Periodic(TICK_SECONDS, app.engine.tick, "due-time loop").start()]
    try:
        await asyncio.Event().wait()  # until killed
    finally:
        for loop in loops:
            await loop.stop()
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
