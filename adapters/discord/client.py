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
from adapters.discord.frontend import CUSTOM_ID, CommandButton, Frontend, Press
from adapters.discord.render import NO_MENTIONS

log = logging.getLogger("snowrail.discord")

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg"
BUTTON = re.compile(CUSTOM_ID)


def point_at(api_base_url: str = DISCORD_API, gateway_url: str | None = DISCORD_GATEWAY) -> None:
    """Send every REST call to `api_base_url` and connect the gateway to `gateway_url` (a local fake, a proxy).
    These two class attributes are discord.py's documented base URLs; they hold for the whole process."""
    discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class Tree(app_commands.CommandTree):
    """Drops a redelivered interaction before any command sees it; apologises for a command that failed."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        return self.client.frontend.first_delivery(interaction.id)  # type: ignore[attr-defined]

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        log.error("slash command /%s failed", getattr(interaction.command, "name", "?"), exc_info=error)
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message(
                    "Sorry, something went wrong on our side.", ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            except discord.HTTPException:
                pass


class SnowRailClient(discord.Client):
    """Interactions, plus server messages read only to spot pasted secrets. `guilds` lets member roles resolve;
    `guard` asks for the privileged message content intent (enable it in the Developer Portal)."""

    def __init__(
        self, frontend: Frontend, *, token_symbols: list[str], guild_ids: tuple[int, ...] = (), guard: bool = True, **options
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = intents.message_content = guard
        options.setdefault("max_messages", None)  # no message cache: a pasted note must not linger in memory
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS, **options)
        self.frontend = frontend
        self.guild_ids = guild_ids
        self.tree = Tree(self)
        for command in commands.build(frontend, token_symbols):
            self.tree.add_command(command)
        self.synced = asyncio.Event()
        self._sync_task: asyncio.Task | None = None

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CommandButton)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """discord.py hands a press to CommandButton only when the message it carries still shows that button;
        a press that arrives with a partial message is routed here instead, so it is never left unanswered."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        match = BUTTON.fullmatch(custom_id)
        if match is None or _shows(interaction.message, custom_id) or not self.frontend.first_delivery(interaction.id):
            return
        await self.frontend.press(interaction, Press(int(match["owner"]), int(match["exp"]), match["cmd"]))

    async def on_message(self, message: discord.Message) -> None:
        await self.frontend.pasted_secret(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """A secret can be edited into a message as well (raw: there is no message cache to compare with)."""
        await self.frontend.pasted_secret(payload.message)

    async def on_ready(self) -> None:
        if self._sync_task is None:
            self._sync_task = asyncio.create_task(self.sync_commands())

    async def sync_commands(self) -> None:
        """Per guild when DISCORD_GUILD_IDS is set (instant), else globally (Discord may take a while)."""
        try:
            if self.guild_ids:
                for gid in self.guild_ids:
                    guild = discord.Object(gid)
                    self.tree.copy_global_to(guild=guild)
                    await self.tree.sync(guild=guild)
            else:
                await self.tree.sync()
            log.info("slash commands synced to %s", list(self.guild_ids) or "all guilds")
            self.synced.set()
        except discord.HTTPException as e:
            log.error("could not sync slash commands: HTTP %s (code %s)", e.status, e.code)
            self._sync_task = None  # the next READY tries again


def _shows(message: discord.Message | None, custom_id: str) -> bool:
    rows = getattr(message, "components", None) or []
    return any(getattr(c, "custom_id", None) == custom_id for row in rows for c in getattr(row, "children", []))
