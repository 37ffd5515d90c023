"""`snowrail run discord`: the engine behind a discord.py client (slash commands, buttons, DMs)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord import DiscordDMNotifier, Frontend, SnowRailClient, point_at
from adapters.discord.frontend import RecentIds
from adapters.queue.inline import InlineQueue
from bot.background import start_background
from bot.bootstrap import App, build
from bot.notifiers import used_the_bot
from bot.redaction import protect_logs
from bot.settings import ConfigError, Settings
from core.commands import Actor
from core.money import format_units
from core.views import counted
from core.replies import Reply

log = logging.getLogger("snowrail.discord")

SWEEP_SECONDS = 5.0  # how often the bot process looks for undelivered notifications when there is no worker
READY_TIMEOUT = 60.0


@dataclass
class DiscordBot:
    """A running Discord front end: the core app, the client, and what delivers notifications."""

    core: App
    client: SnowRailClient
    frontend: Frontend
    notifier: DiscordDMNotifier
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def deliver(self) -> int:
        return await self.core.engine.deliver_notifications(self.notifier, platform="discord")

    async def stop(self, *, core: bool = True) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.close()
        if core:
            await self.core.close()  # drains queued deliveries first, so the notifier closes after them
        await self.notifier.close()


async def start(settings: Settings, *, extra_operators: frozenset[str] = frozenset()) -> DiscordBot:
    """Build everything, log in and connect; returns once the gateway said READY."""
    settings.require("discord_bot_token")
    assert settings.discord_bot_token is not None
    token = settings.discord_bot_token.get_secret_value()
    guild_ids = settings.discord_guilds()
    settings.discord_operator_role_id()  # a role name, or a role without guilds, stops here: before anything starts
    if not guild_ids:
        log.warning(
            "DISCORD_GUILD_IDS is not set: the bot answers in every server that invites it, and only the users in "
            "OPERATORS may spend (a role counts only in the servers listed in DISCORD_GUILD_IDS)"
        )
    point_at(settings.discord_api_base_url, settings.discord_gateway_url)
    core = await build(settings, extra_operators=extra_operators)
    inline = core.queue if isinstance(core.queue, InlineQueue) else None  # no Redis: this process does the jobs
    try:
        return await _start(settings, token, guild_ids, core, inline)
    except BaseException:
        await core.close()
        raise


async def _connect(
    settings: Settings, token: str, guild_ids: tuple[int, ...], core: App, frontend: Frontend,
    notifier: DiscordDMNotifier, *, guard: bool,
) -> DiscordBot:  # fmt: skip
    """Log in and open the gateway; returns once it said READY. `guard`: read server messages for pasted secrets."""
    client = SnowRailClient(frontend, token_symbols=core.engine.chain.tokens.symbols(), guild_ids=guild_ids, guard=guard)
    try:
        await client.login(token)
    except discord.LoginFailure:
        await client.close()
        raise ConfigError("DISCORD_BOT_TOKEN was rejected by the Discord API") from None
    if client.application_id is not None and client.user is not None and client.application_id != client.user.id:
        log.warning("the application id differs from the bot user id; commands are registered for the application")
    bot = DiscordBot(core, client, frontend, notifier)
    connection = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    bot.tasks.append(connection)
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait({connection, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        failure = connection.exception() if connection in done else None
        await bot.stop(core=False)  # start() closes the core
        if failure is not None:
            raise failure
        raise ConfigError(f"the Discord gateway at {settings.discord_gateway_url} did not say READY within {READY_TIMEOUT:.0f}s")
    return bot


async def _start(settings: Settings, token: str, guild_ids: tuple[int, ...], core: App, inline: InlineQueue | None) -> DiscordBot:
    engine = core.engine

    async def handle(text: str, actor: Actor, key: str) -> Reply:
        return await engine.handle_text(text, actor=actor, key=key)

    frontend = Frontend(
        handle,
        is_operator=engine.services.policy.is_operator,
        operator_role=settings.discord_operator_role_id(),
        guild_ids=guild_ids,
        upload=lambda content, filename, actor, key: engine.bulk_upload(actor, key, filename, content),
        recent_ids=recent_ids(core),
        recent_batches=recent_batches(core),
    )
    notifier = DiscordDMNotifier(token, may_dm=used_the_bot(core.uow))
    try:
        bot = await _connect(settings, token, guild_ids, core, frontend, notifier, guard=True)
    except discord.PrivilegedIntentsRequired:
        log.warning(
            "the Message Content intent is not enabled for this bot, so mixer notes and keys pasted in server "
            "channels cannot be spotted and deleted; enable it under Bot > Privileged Gateway Intents"
        )
        bot = await _connect(settings, token, guild_ids, core, frontend, notifier, guard=False)
    bot.tasks.extend(start_background(core.queue, bot.deliver, core.engine.reconcile))  # shared with Telegram
    return bot


def recent_ids(core: App) -> RecentIds:
    """Autocomplete for ids: the asker's latest payments, labelled with amount and status."""

    def label(i) -> str:
        return f"{i.id} · {_amount(core, i.amount, i.token)} · {i.status.value}"

    return _own(core, lambda uow, ref, n: uow.intents.for_actor(ref, n), label)


def recent_batches(core: App) -> RecentIds:
    """Autocomplete for /bulk batch ids: the asker's own uploads, labelled with status, size, total and file."""

    def label(b) -> str:
        totals = ", ".join(_amount(core, units, sym) for sym, units in b.totals.items()) or "-"
        return f"{b.id} · {b.status.value} · {counted(b.rows, 'row')} · {totals} · {b.filename}"

    return _own(core, lambda uow, ref, n: uow.batches.for_actor(ref, n), label)


def _own(core: App, fetch: Callable[[Any, str, int], Awaitable[list]], label: Callable[[Any], str]) -> RecentIds:
    async def ids(actor_ref: str, limit: int) -> list[tuple[str, str]]:
        async with core.uow() as uow:  # type: ignore[operator]
            found = await fetch(uow, actor_ref, limit)
        return [(x.id, label(x)) for x in found]

    return ids


def _amount(core: App, units: int, symbol: str) -> str:
    return f"{format_units(units, core.chain.tokens.get(symbol).decimals)} {symbol}"


async def _main(settings: Settings) -> int:
    bot = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    connection = bot.tasks[0]
    print(f"SnowRail on Discord as {bot.client.user} (application {bot.client.application_id}); Ctrl-C to stop.", flush=True)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, connection}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    failed = connection.done() and not connection.cancelled() and connection.exception() is not None
    await bot.stop()
    if failed:
        raise connection.exception()  # type: ignore[misc]
    return 0


def run(settings: Settings) -> int:
    if settings.discord_bot_token is not None:
        # discord.py at DEBUG quotes gateway events: a pasted note or key must not reach the log through them.
        protect_logs(settings.discord_bot_token.get_secret_value())
    return asyncio.run(_main(settings))
