"""Discord: slash commands, stateless buttons and private replies in; DMs from workers out. Translation only."""

from adapters.discord.client import SnowRailClient, point_at
from adapters.discord.frontend import Frontend
from adapters.discord.notifier import DiscordDMNotifier

__all__ = ["SnowRailClient", "Frontend", "DiscordDMNotifier", "point_at"]
