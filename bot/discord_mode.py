"""`snowrail run discord`: the engine behind a discord.py client (slash commands, buttons, DMs)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import discord

from adapters.discord import DiscordFrontend, DiscordNotifier, SnowRailClient, point_at
from bot.background import ChatRunner, until_signalled
from bot.bootstrap import App, build
from bot.notifiers import used_the_bot
from bot.redaction import protect_logs
from bot.settings import ConfigError, Settings

log = logging.getLogger("snowrail.discord")

READY_TIMEOUT = 60.0


@dataclass
class DiscordBot:
    """A running Discord front end: the core app, the client, and what delivers notifications."""

    core: App
    client: SnowRailClient
    frontend: DiscordFrontend
    notifier: DiscordNotifier
    runner: ChatRunner
    connection: asyncio.Task[None]  # the gateway: its end (a failure) ends the bot

    async def stop(self, *, core: bool = True) -> None:
        """The shared shutdown (bot.background.ChatRunner); `core`: close the app too."""
        await self.runner.stop(self._stop_receiving, self.notifier.close, close_app=core)

    async def _stop_receiving(self) -> None:
        self.connection.cancel()
        await asyncio.gather(self.connection, return_exceptions=True)
        await self.client.close()


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
    try:
        return await _start(settings, token, guild_ids, core)
    except BaseException:
        await core.close()
        raise


async def _connect(
    settings: Settings, token: str, guild_ids: tuple[int, ...], core: App, frontend: DiscordFrontend,
    notifier: DiscordNotifier, *, guard: bool,
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
    connection = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    bot = DiscordBot(core, client, frontend, notifier, ChatRunner(core, notifier, "discord"), connection)
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


async def _start(settings: Settings, token: str, guild_ids: tuple[int, ...], core: App) -> DiscordBot:
    frontend = DiscordFrontend(core.engine, operator_role=settings.discord_operator_role_id(), guild_ids=guild_ids)
    notifier = DiscordNotifier(token, may_dm=used_the_bot(core.uow))
    try:
        bot = await _connect(settings, token, guild_ids, core, frontend, notifier, guard=True)
    except discord.PrivilegedIntentsRequired:
        log.warning(
            "the Message Content intent is not enabled for this bot, so mixer notes and keys pasted in server "
            "channels cannot be spotted and deleted; enable it under Bot > Privileged Gateway Intents"
        )
        bot = await _connect(settings, token, guild_ids, core, frontend, notifier, guard=False)
    bot.runner.start()
    return bot


async def _main(settings: Settings) -> int:
    bot = await start(settings)
    print(f"SnowRail on Discord as {bot.client.user} (application {bot.client.application_id}); Ctrl-C to stop.", flush=True)
    return await until_signalled(bot, connection=bot.connection)


def run(settings: Settings) -> int:
    if settings.discord_bot_token is not None:
        # discord.py at DEBUG quotes gateway events: a pasted note or key must not reach the log through them.
        protect_logs(settings.discord_bot_token.get_secret_value())
    return asyncio.run(_main(settings))
