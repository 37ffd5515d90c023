"""The discord.py client: the command tree, stateless buttons, command sync after READY, nothing else."""

from __future__ import annotations

import asyncio
import logging
import re

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord import commands
from adapters.discord.buttons import CUSTOM_ID, CommandButton, press_of
from adapters.discord.frontend import DiscordFrontend
from adapters.discord.render import NO_MENTIONS

log = logging.getLogger("snowrail.discord")

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg"
BUTTON = re.compile(CUSTOM_ID)
# Where the global commands may be used when DISCORD_GUILD_IDS is set: in a DM with the bot, never in a server.
DMS_ONLY = app_commands.AppCommandContext(guild=False, dm_channel=True, private_channel=False)


def point_at(api_base_url: str = DISCORD_API, gateway_url: str | None = DISCORD_GATEWAY) -> None:
    """Send every REST call to `api_base_url` and connect the gateway to `gateway_url` (a local fake, a proxy).
    These two class attributes are discord.py's documented base URLs; they hold for the whole process."""
    discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class Tree(app_commands.CommandTree):
    """Drops a redelivered interaction, and refuses one from a foreign server, before any command (or autocomplete)
    sees it; apologises for a command that failed."""

    def __init__(self, client: discord.Client, frontend: DiscordFrontend) -> None:
        super().__init__(client)
        self.frontend = frontend

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        name = str(dict(interaction.data or {}).get("name", "?"))
        return self.frontend.first_delivery(interaction.id) and await self.frontend.admit(interaction, f"/{name}")

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        if isinstance(error, app_commands.CommandNotFound):
            # Discord still listed a command from an earlier registration (the sync at start replaces them).
            log.info("/%s is not registered where it was used (guild %s)", error.name, interaction.guild_id)
            answer = "This command is not available here: use it in the server where SnowRail is set up."
        else:
            log.error("slash command /%s failed", getattr(interaction.command, "name", "?"), exc_info=error)
            answer = "Sorry, something went wrong on our side."
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(answer, ephemeral=True, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException:
                pass


class SnowRailClient(discord.Client):
    """Interactions, plus server messages read only to spot pasted secrets. `guilds` lets member roles resolve;
    `guard` asks for the privileged message content intent (enable it in the Developer Portal)."""

    def __init__(
        self, frontend: DiscordFrontend, *, token_symbols: list[str], guild_ids: tuple[int, ...] = (), guard: bool = True, **options
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = intents.message_content = guard
        intents.dm_messages = True  # plain-language requests in DMs (and, with `guard`, mentions in servers)
        options.setdefault("max_messages", None)  # no message cache: a pasted note must not linger in memory
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.frontend = frontend
        self.guild_ids = guild_ids
        self.tree = Tree(self, frontend)
        # With DISCORD_GUILD_IDS the commands are registered in those guilds, and globally for DMs only (where a role
        # never counts): no other server lists them. Without it they are global, usable wherever the bot is.
        for command in commands.build(frontend, token_symbols):
            if guild_ids:
                command.allowed_contexts = DMS_ONLY
            self.tree.add_command(command)
        if guild_ids:
            guilds = [discord.Object(g) for g in guild_ids]
            for command in commands.build(frontend, token_symbols):
                self.tree.add_command(command, guilds=guilds)
        self.synced = asyncio.Event()
        self._sync_task: asyncio.Task | None = None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CommandButton)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """discord.py hands a press to CommandButton only when the message it carries still shows that button;
        a press that arrives with a partial message is routed here instead, so it is never left unanswered."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
        match = BUTTON.fullmatch(custom_id)
        if match is None or _shows(interaction.message, custom_id) or not self.frontend.first_delivery(interaction.id):
            return
        await self.frontend.press(interaction, press_of(match))

    async def on_message(self, message: discord.Message) -> None:
        if await self.frontend.pasted_secret(message) or self.user is None:
            return
        if not await self.frontend.pasted_bulk(message, self.user):
            await self.frontend.plain_text(message, self.user)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A secret can be edited into a message as well (raw: there is no message cache to compare with)."""
        await self.frontend.pasted_secret(payload.message, edited=True)

    async def on_ready(self) -> None:
        if self._sync_task is None:
            self._sync_task = asyncio.create_task(self.sync_commands())

    async def sync_commands(self) -> None:
        """Per guild when DISCORD_GUILD_IDS is set (instant), then globally (Discord may take a while): for DMs only in
        the first case, which also takes the commands out of any server an earlier global registration reached."""
        try:
            for gid in self.guild_ids:
                await self.tree.sync(guild=discord.Object(gid))
            await self.tree.sync()
            log.info("slash commands synced to %s", list(self.guild_ids) or "all guilds")
            self.synced.set()
        except discord.HTTPException as e:
            log.error("could not sync slash commands: HTTP %s (code %s)", e.status, e.code)
            self._sync_task = None  # the next READY tries again


def _shows(message: discord.Message | None, custom_id: str) -> bool:
    rows = getattr(message, "components", None) or []
    return any(getattr(c, "custom_id", None) == custom_id for row in rows for c in getattr(row, "children", []))
