"""Discord: slash commands, stateless buttons and private replies in; DMs from workers out. Translation only."""

from adapters.discord.client import SnowRailClient, point_at
from adapters.discord.frontend import DiscordFrontend
from adapters.discord.notifier import DiscordNotifier

__all__ = ["SnowRailClient", "DiscordFrontend", "DiscordNotifier", "point_at"]
