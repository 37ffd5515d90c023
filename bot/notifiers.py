"""Which Notifier delivers to which platform, given the settings this process has."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from adapters.console import ConsoleNotifier
from bot.settings import Settings
from core.ports import Notifier, UnitOfWorkFactory


def notifiers_for(settings: Settings, uow: UnitOfWorkFactory | None = None) -> dict[str, Notifier]:
    # Console users only exist inside a console session; a worker prints theirs to its own log.
    out: dict[str, Notifier] = {"console": ConsoleNotifier()}
    if settings.telegram_bot_token:
        from adapters.telegram import TelegramNotifier

        out["telegram"] = TelegramNotifier(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            base_file_url=settings.telegram_file_base_url,
        )
    if settings.discord_bot_token:
        from adapters.discord import DiscordDMNotifier, point_at

        point_at(settings.discord_api_base_url, None)  # REST only: workers never open the gateway
        out["discord"] = DiscordDMNotifier(
            settings.discord_bot_token.get_secret_value(), may_dm=used_the_bot(uow) if uow is not None else None
        )
    return out


def used_the_bot(uow: UnitOfWorkFactory) -> Callable[[str], Awaitable[bool]]:
    """Whether we may message this person: they have used the bot (cold DMs get bots quarantined)."""

    async def may_dm(user_ref: str) -> bool:
        async with uow() as work:
            user = await work.users.get(user_ref)
        return user is not None and not user.dm_blocked

    return may_dm
