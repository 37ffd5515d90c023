"""Which Notifier delivers to which platform, given the settings this process has."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import AsyncExitStack

from adapters.console import ConsoleNotifier
from bot.settings import Settings
from core.ports import Notifier, UnitOfWorkFactory


def notifiers_for(settings: Settings, uow: UnitOfWorkFactory | None = None,
                  resources: AsyncExitStack | None = None) -> dict[str, Notifier]:
    """`resources`: where the senders holding an HTTP session register their close()."""
    # Console users only exist inside a console session; a worker prints theirs to its own log.
    out: dict[str, Notifier] = {"console": ConsoleNotifier()}
    if settings.telegram_bot_token:
        from adapters.telegram import TelegramNotifier

        out["telegram"] = telegram = TelegramNotifier(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            base_file_url=settings.telegram_file_base_url,
            slots=RedisSlots(settings.redis_url) if settings.redis_url else None,
        )
        if resources is not None:
            resources.push_async_callback(telegram.close)
    if settings.discord_bot_token:
        from adapters.discord import DiscordNotifier, point_at

        point_at(settings.discord_api_base_url, None)  # REST only: workers never open the gateway
        out["discord"] = discord = DiscordNotifier(
            settings.discord_bot_token.get_secret_value(),
            may_dm=used_the_bot(uow) if uow is not None else None,
            slots=RedisSlots(settings.redis_url) if settings.redis_url else None,
        )
        if resources is not None:
            resources.push_async_callback(discord.close)
    return out


def used_the_bot(uow: UnitOfWorkFactory) -> Callable[[str], Awaitable[bool]]:
    """Whether we may message this person: they have used the bot (cold DMs get bots quarantined)."""

    async def may_dm(user_ref: str) -> bool:
        async with uow() as work:
            user = await work.users.get(user_ref)
        return user is not None and not user.dm_blocked

    return may_dm


class RedisSlots(MutableMapping[str, int]):
    """Which message shows a progress slot, shared by every worker process (each RQ job is a new one). One
    store for every platform: a slot names one batch, and a batch reports to its one uploader."""

    PREFIX = "snowrail:progress-message:"
    TTL = 7 * 24 * 3600

    def __init__(self, redis_url: str) -> None:
        from redis import Redis

        self.redis = Redis.from_url(redis_url)

    def __getitem__(self, slot: str) -> int:
        value = self.redis.get(self.PREFIX + slot)
        if value is None:
            raise KeyError(slot)
        return int(value)

    def __setitem__(self, slot: str, message_id: int) -> None:
        self.redis.set(self.PREFIX + slot, int(message_id), ex=self.TTL)

    def __delitem__(self, slot: str) -> None:
        self.redis.delete(self.PREFIX + slot)

    def __iter__(self) -> Iterator[str]:
        return (k.decode()[len(self.PREFIX) :] for k in self.redis.scan_iter(self.PREFIX + "*"))

    def __len__(self) -> int:
        return sum(1 for _ in self)
