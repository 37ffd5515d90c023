"""The run modes: each builds the app from settings and drives one front end."""

from __future__ import annotations

import time

from adapters.console import ConsoleChat, ConsoleNotifier
from adapters.console.chat import OPERATOR
from bot.background import TICK_SECONDS, Periodic
from bot.bootstrap import build
from bot.chain_tools import adopt_local_dev_stack
from bot.settings import Settings


async def run_console(settings: Settings, *, started: float) -> int:
    await adopt_local_dev_stack(settings)  # `--rpc` at a bare anvil: deploy there once and use its dev key
    # The person at the terminal is an admin: they may try /role (and /as, to play the others) at once.
    app = await build(settings, extra_admins=frozenset({OPERATOR.ref}))
    files = settings.data_dir.resolve() / "files"  # reports and other attachments land here
    notifier = ConsoleNotifier(files_dir=files)
    try:
        await app.engine.reconcile()

        async def handle(text, actor, key):
            return await app.engine.handle_text(text, actor=actor, key=key)

        async def deliver():
            # Payments that confirmed after their reply (slow blocks) are settled here, then announced.
            await app.engine.reconcile()
            await app.engine.deliver_notifications(notifier, platform="console")
            if not settings.database_url:  # a database of its own: nobody else delivers to the people played with /as
                for platform in sorted(chat.played):
                    await app.engine.deliver_notifications(notifier, platform=platform)

        where = "the in-process dev chain (gone when you exit)" if app.embedded_chain else f"chain {app.chain.chain_id}"
        async def due() -> None:  # the due-time loop: what it moves (an intent funded, a schedule paid) is shown at once
            if await app.engine.tick():
                await deliver()

        chat = ConsoleChat(handle, after_each=deliver, files_dir=files)
        banner = (
            f"SnowRail console — you are an admin on {where}. Treasury {app.chain.treasury}.\n"
            f"Send /help for commands, /as telegram:5 to act as someone else{', /quit to leave' if chat.interactive else ''}. "
            f"(ready in {time.perf_counter() - started:.1f}s)\n"
        )
        loop = Periodic(TICK_SECONDS, due, "due-time loop").start()
        web = None
        if settings.web_port is not None:  # the dashboard beside the console: its in-process chain lives only here
            from bot.web_mode import dashboard_server

            web = dashboard_server(app, settings, signals=False)
            await web.start()
            banner += f"Dashboard on http://{settings.web_listen}:{web.port}: send /dashboard for a sign-in link.\n"
        try:
            await chat.run(banner)
        finally:
            if web is not None:
                await web.stop()
            await loop.stop()
    finally:
        await app.close()
    return 0


async def reconcile_once(settings: Settings) -> int:
    app = await build(settings, watch=False)
    try:
        return await app.engine.reconcile()
    finally:
        await app.close()


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    # A worker shares the bot's chain and database: the embedded ones live inside the bot's process.
    settings.require("redis_url", "database_url", "rpc_url")
    assert settings.redis_url
    import workers.jobs  # noqa: F401  loaded once here, so each forked job starts warm
    from workers.bulk import serve

    # Resumes bulk batches left running by workers that died, and again whenever Redis was away.
    return serve(settings.redis_url, burst=burst, with_scheduler=True)
