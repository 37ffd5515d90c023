"""HEALTH_PORT: /healthz, /readyz and /metrics beside every run mode; the process's metrics and their sampler."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.settings import ConfigError, Settings
from core.metrics import Metrics, NoMetrics
from core.money import Amount

if TYPE_CHECKING:
    from aiohttp import web

    from adapters.metrics.prometheus import PrometheusMetrics
    from bot.bootstrap import App

log = logging.getLogger("snowrail.health")

CHECK_TIMEOUT = 2.0  # seconds each readiness check may take before it counts as failed
SAMPLE_SECONDS = 15.0  # balances and the nonce gap are read this often (a Prometheus scrape interval)

_metrics: Metrics = NoMetrics()
_prometheus: PrometheusMetrics | None = None


def process_metrics() -> Metrics:
    """What this process reports to: Prometheus once enable_metrics() ran (HEALTH_PORT), else nothing."""
    return _metrics


def enable_metrics(multiprocess_dir: Path | None = None) -> PrometheusMetrics:
    """The process's Prometheus metrics, made once. `multiprocess_dir`: for a process that forks per job (the RQ
    worker): each child writes its series there and /metrics adds them up; it is emptied first, and must be set
    before prometheus_client is first imported."""
    global _metrics, _prometheus
    if _prometheus is None:
        if multiprocess_dir is not None:
            shutil.rmtree(multiprocess_dir, ignore_errors=True)
            multiprocess_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(multiprocess_dir)
            from adapters.metrics.files import remove_stale

            remove_stale(multiprocess_dir.parent)  # directories left by earlier worker processes
        from adapters.metrics.prometheus import PrometheusMetrics

        _prometheus = PrometheusMetrics()
        _metrics = _prometheus
    return _prometheus


def sampling(app: App) -> bool:
    return not isinstance(app.engine.services.metrics, NoMetrics)


async def sample(app: App) -> None:
    """Treasury balances per token, the executor's and the relayer's gas, and the executor's nonce gap."""
    metrics, chain = app.engine.services.metrics, app.chain
    native = chain.tokens.native
    for token in chain.tokens:
        if token.native or token.address:
            metrics.balance("treasury", Amount(await chain.balance(chain.treasury, token), token))
    metrics.balance("executor", Amount(await chain.balance(chain.executor, native), native))
    metrics.nonce_gap(max(0, await chain.pending_nonce() - await chain.mined_nonce()))
    relayer = app.settings.mixer_relayer_key
    if relayer is not None and app.settings.mixer_contract_address:
        from eth_account import Account

        address = Account.from_key(relayer.get_secret_value()).address
        metrics.balance("relayer", Amount(await chain.balance(address, native), native))


Check = Callable[[], Awaitable[Any]]


class Readiness:
    """/readyz: the database, Redis and the chain node the settings name, each asked something trivial, all at
    once, with its own connection (the bot's pools may be busy; a health check must not queue behind them)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = [name for name, url in (("database", settings.database_url), ("redis", settings.redis_url),
                                             ("rpc", settings.rpc_url)) if url]
        self.checks: dict[str, Check] = {}  # made on the first /readyz: a start pays none of their imports
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    def _made(self) -> dict[str, Check]:
        if not self.checks:
            s = self.settings
            makers = {"database": lambda: self._database(s.database_url or ""),
                      "redis": lambda: self._redis(s.redis_url or ""),
                      "rpc": lambda: self._rpc(s.rpc_url or "")}
            self.checks = {name: makers[name]() for name in self.names}
        return self.checks

    def _database(self, url: str) -> Check:
        from sqlalchemy import text

        from adapters.db import create_engine_for

        engine = create_engine_for(url)
        self._closers.append(engine.dispose)

        async def check() -> None:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        return check

    def _redis(self, url: str) -> Check:
        from redis.asyncio import Redis

        client = Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT)
        self._closers.append(client.aclose)
        return client.ping

    def _rpc(self, url: str) -> Check:
        from adapters.chain import HttpNode

        node = HttpNode(url, timeout=CHECK_TIMEOUT)
        self._closers.append(node.close)
        return node.chain_id

    async def failures(self) -> dict[str, str]:
        """{check: why} for each check that failed; empty when ready. Never names a URL's password."""
        checks = self._made()
        names = list(checks)
        results = await asyncio.gather(*(asyncio.wait_for(checks[n](), CHECK_TIMEOUT) for n in names),
                                       return_exceptions=True)
        failed = {}
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                failed[name] = "timed out" if isinstance(result, TimeoutError) else f"{type(result).__name__}"
        return failed

    async def close(self) -> None:
        for close in reversed(self._closers):
            try:
                await close()
            except Exception:  # noqa: BLE001 - closing at exit: nothing left to tell
                pass


class HealthServer:
    """The three endpoints on HEALTH_LISTEN:HEALTH_PORT. start()/stop() on a running loop, or serve_in_thread()."""

    def __init__(self, settings: Settings, metrics: PrometheusMetrics, *, port: int | None = None) -> None:
        self.settings, self.metrics = settings, metrics
        self.port = settings.health_port if port is None else port
        self.readiness = Readiness(settings)
        self._runner: web.AppRunner | None = None

    async def start(self) -> HealthServer:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.health_listen, self.port or 0)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:  # port 0: the one the system chose
            self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.readiness.close()

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        return web.json_response({"status": "alive"})

    async def _readyz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        failed = await self.readiness.failures()
        body = {name: failed.get(name, "ok") for name in self.readiness.names}
        return web.json_response({"ready": not failed, "checks": body}, status=503 if failed else 200)

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST

        body = await asyncio.to_thread(self.metrics.exposition)  # reading many processes' files: off the loop
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def serve_in_thread(settings: Settings, *, forks: bool = False) -> HealthServer:
    """Start the endpoints on a daemon thread with its own event loop, beside any run mode (the worker's RQ loop
    is synchronous). `forks`: jobs run in forked children (RQ's Worker): their series meet in a directory.
    Returns once the port is bound; ConfigError when it cannot be."""
    metrics = enable_metrics(settings.data_dir.resolve() / f"metrics-{os.getpid()}" if forks else None)
    server = HealthServer(settings, metrics)
    started = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        try:
            await server.start()
        except BaseException as e:  # noqa: BLE001 - told to the starting thread below
            failure.append(e)
            started.set()
            return
        started.set()
        try:
            await asyncio.Event().wait()  # until the process exits (a daemon thread)
        finally:
            await server.stop()

    threading.Thread(target=asyncio.run, args=(main(),), name="health", daemon=True).start()
    started.wait(30)
    if failure:
        raise ConfigError(f"HEALTH_PORT {settings.health_port}: cannot serve there ({type(failure[0]).__name__}: "
                          f"{failure[0]})")
    log.info("health and metrics on port %s", server.port)
    return server
