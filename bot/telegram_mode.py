"""`snowrail run telegram`: the engine behind a python-telegram-bot Application, polling or on a webhook."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from adapters.telegram import CallbackCodec, TelegramFrontend, TelegramNotifier
from adapters.telegram.ordering import PerChatOrder
from bot.background import ChatRunner, until_signalled
from bot.bootstrap import App, build
from bot.redaction import protect_logs
from bot.settings import ConfigError, Settings
from core.usage import SUMMARY, USAGE

log = logging.getLogger("snowrail.telegram")

# Edited messages too: the group guard reads them for pasted secrets (commands run only from new messages).
UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
NOT_IN_MENU: frozenset[str] = frozenset()  # commands answered but not offered (none since /deposit works)


def menu() -> list[BotCommand]:
    """The command menu Telegram shows: what works today."""
    return [BotCommand(name, summary[:256]) for name, summary in SUMMARY.items() if name not in NOT_IN_MENU]


@dataclass
class TelegramBot:
    """A running Telegram front end: the core app, the PTB Application and what delivers notifications."""

    core: App
    application: Application
    frontend: TelegramFrontend
    notifier: TelegramNotifier
    runner: ChatRunner
    webhook_secret: str | None = None

    async def stop(self, *, core: bool = True) -> None:
        """The shared shutdown (bot.background.ChatRunner); `core`: close the app too."""
        await self.runner.stop(self._stop_receiving, self.application.shutdown, close_app=core)

    async def _stop_receiving(self) -> None:
        if self.application.updater and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()


def build_application(settings: Settings, token: str, *, rate_limit: bool = True) -> Application:
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .concurrent_updates(PerChatOrder(64))
    )
    if not rate_limit:  # off only to measure the engine's own capacity (bench/telegram.py)
        return builder.build()
    return builder.rate_limiter(AIORateLimiter(max_retries=3)).build()  # a 429 is waited out and retried


async def start(
    settings: Settings,
    *,
    extra_operators: frozenset[str] = frozenset(),
    poll_timeout: float = 10.0,
    rate_limit: bool = True,
) -> TelegramBot:
    """Build everything and start receiving updates; returns once polling (or the webhook) is up."""
    settings.require("telegram_bot_token")
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    core = await build(settings, extra_operators=extra_operators)
    try:
        return await _start(settings, token, core, poll_timeout, rate_limit)
    except BaseException:
        await core.close()
        raise


async def _start(settings: Settings, token: str, core: App, poll_timeout: float, rate_limit: bool) -> TelegramBot:
    engine = core.engine
    application = build_application(settings, token, rate_limit=rate_limit)
    frontend = TelegramFrontend(engine, codec=CallbackCodec.for_token(token), commands=[*USAGE, *SUMMARY, "balance"])
    for group, handlers in frontend.handlers().items():
        application.add_handlers(handlers, group=group)
    application.add_error_handler(frontend.on_error)
    try:
        await application.initialize()
    except (InvalidToken, NetworkError) as e:
        await application.bot.shutdown()
        if isinstance(e, InvalidToken):  # its message quotes the token: never pass it on
            raise ConfigError("TELEGRAM_BOT_TOKEN was rejected by the Bot API server") from None
        raise ConfigError(f"the Bot API server at {settings.telegram_api_base_url} is not answering ({type(e).__name__})") from None
    notifier = TelegramNotifier(bot=application.bot)
    tg = TelegramBot(core, application, frontend, notifier, ChatRunner(core, notifier, "telegram"))
    try:
        await _receive(settings, tg, poll_timeout)
    except BaseException:
        await tg.stop(core=False)  # start() closes the core
        raise
    return tg


async def _receive(settings: Settings, tg: TelegramBot, poll_timeout: float) -> None:
    """Menu, notification delivery and reconciliation, then updates: polling, or the webhook when
    TELEGRAM_WEBHOOK_URL is set."""
    application, updater = tg.application, tg.application.updater
    assert updater is not None  # ApplicationBuilder makes one unless told not to
    tg.runner.start()
    await application.bot.set_my_commands(menu())
    await application.start()
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else secrets.token_urlsafe(32)
        tg.webhook_secret = secret
        await updater.start_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path=urlparse(settings.telegram_webhook_url).path.lstrip("/"),
            webhook_url=settings.telegram_webhook_url,
            secret_token=secret,
            allowed_updates=UPDATES,
        )
    else:
        await updater.start_polling(timeout=timedelta(seconds=poll_timeout), allowed_updates=UPDATES)


async def serve(settings: Settings) -> int:
    tg = await start(settings)
    mode = "webhook" if settings.telegram_webhook_url else "polling"
    print(f"SnowRail on Telegram as @{tg.application.bot.username} ({mode}); treasury {tg.core.chain.treasury}", flush=True)
    return await until_signalled(tg)


def run(settings: Settings) -> int:
    assert settings.telegram_bot_token is not None
    protect_logs(settings.telegram_bot_token.get_secret_value())
    return asyncio.run(serve(settings))
