"""`snowrail run web`: the web dashboard (adapters.web) on WEB_PORT over the same engine, and its settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import Settings
from core.dashboard import WebAccess

if TYPE_CHECKING:
    import uvicorn

    from bot.bootstrap import App

log = logging.getLogger("snowrail.web")

DEFAULT_PORT = 8080


def web_access(settings: Settings) -> WebAccess | None:
    """The dashboard's settings when it is served (WEB_PORT or WEB_BASE_URL set), else None (/dashboard says so).
    The bot that DMs the link and the process that serves the page must share WEB_SECRET: set it, or run both
    from one DATA_DIR, where an unset one is generated once and kept."""
    if settings.web_port is None and not settings.web_base_url:
        return None
    base = settings.web_base_url.strip() or f"http://127.0.0.1:{settings.web_port or DEFAULT_PORT}"
    if settings.web_secret is not None:
        secret = settings.web_secret.get_secret_value().encode()
    else:
        secret = _generated_secret(settings.data_dir)
    return WebAccess(base.rstrip("/"), secret, settings.web_session_hours)


def _generated_secret(data_dir: Path) -> bytes:
    path = data_dir / "web_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Created readable by its owner only, in one step (no moment where another user could read it).
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        log.warning("WEB_SECRET is unset: generated one into %s; set WEB_SECRET when the bot and the dashboard run "
                    "on different machines", path)
    return path.read_text().strip().encode()


class _Server:
    """uvicorn serving the dashboard inside this process's event loop."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started and not self.task.done():
            await asyncio.sleep(0.02)  # startup is a handful of ms; serve() sets `started` once it listens
        if self.task.done():
            self.task.result()  # the port was taken: raise its error now

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])


def dashboard_server(app: App, settings: Settings, *, signals: bool = True) -> _Server:
    """The dashboard of `app` on WEB_LISTEN:WEB_PORT. `signals`: uvicorn handles Ctrl-C (alone in its process);
    beside the console, the console does."""
    import uvicorn

    from adapters.web import create_app

    web = app.engine.services.web
    if web is None:
        raise RuntimeError("the engine was built without web settings (WEB_PORT or WEB_BASE_URL)")
    config = uvicorn.Config(create_app(app.engine, web), host=settings.web_listen,
                            port=settings.web_port if settings.web_port is not None else DEFAULT_PORT,
                            log_level="warning", access_log=False, lifespan="off", proxy_headers=True,
                            # Open progress streams (server-sent events) would hold a shutdown forever otherwise.
                            timeout_graceful_shutdown=2)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if signals:
                with super().capture_signals():
                    yield
            else:
                yield

    return _Server(Server(config))


def run(settings: Settings) -> int:
    if settings.web_port is None:
        settings.web_port = DEFAULT_PORT
    return asyncio.run(_run(settings))


async def _run(settings: Settings) -> int:
    from bot.bootstrap import build

    app = await build(settings)
    try:
        server = dashboard_server(app, settings)
        await server.start()
        web = app.engine.services.web
        print(f"SnowRail dashboard on http://{settings.web_listen}:{server.port} (links point at "
              f"{web.base_url if web else '?'}); send /dashboard in chat to sign in.", flush=True)
        if app.embedded_chain:  # nobody else can reach this process's chain and database to send a link
            print("This process runs its own in-process chain: no chat can send its sign-in links. Set DATABASE_URL and "
                  "RPC_URL as the bot has them, or try it all at once with `WEB_PORT=8080 snowrail console`.", flush=True)
        assert server.task is not None
        await server.task
    finally:
        await app.close()
    return 0
