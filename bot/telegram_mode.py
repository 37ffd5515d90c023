"""`snowrail run telegram`: the engine behind a python-telegram-bot Application, polling or on a webhook."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from dataclasses import dataclass, field
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from adapters.telegram import CallbackCodec, TelegramFrontend, TelegramNotifier
from adapters.telegram.ordering import PerChatOrder
from bot.background import start_background
from bot.bootstrap import App, build
from bot.redaction import protect_logs
from bot.settings import ConfigError, Settings
from core.commands import Actor
from core.parsing import SUMMARY, USAGE
from core.replies import Reply

log = logging.getLogger("snowrail.telegram")

# Edited messages too: the group guard reads them for pasted secrets (commands run only from new messages).
UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
NOT_IN_MENU = frozenset({"deposit"})  # still answered (it says it is not available yet), but not offered


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
    webhook_secret: str | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def deliver(self) -> int:
        return await self.core.engine.deliver_notifications(self.notifier, platform="telegram")

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.application.updater and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        try:
            await self.core.close()  # drains inline deliveries first: they need the bot, so it shuts down after
        finally:
            await self.application.shutdown()


def build_application(settings: Settings, token: str, *, rate_limit: bool = True) -> Application:
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .concurrent_updates(PerChatOrder(64))
    )
    if rate_limit:  # off only to measure the engine's own capacity (bench/telegram.py)
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # a 429 is waited out and retried
    return builder.build()


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

    async def handle(text: str, actor: Actor, key: str) -> Reply:
        return await engine.handle_text(text, actor=actor, key=key)

    frontend = TelegramFrontend(
        handle,
        codec=CallbackCodec.for_token(token),
        commands=[*USAGE, *SUMMARY, "balance"],
        is_operator=engine.services.policy.is_operator,
        upload=_upload_entry(engine),
    )
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
    tg = TelegramBot(core, application, frontend, TelegramNotifier(bot=application.bot))
    try:
        await _receive(settings, tg, poll_timeout)
    except BaseException:
        for task in tg.tasks:
            task.cancel()
        if application.running:
            await application.stop()
        await application.shutdown()
        raise
    return tg


async def _receive(settings: Settings, tg: TelegramBot, poll_timeout: float) -> None:
    """Menu, notification delivery and reconciliation, then updates: polling, or the webhook when
    TELEGRAM_WEBHOOK_URL is set."""
    application, core = tg.application, tg.core
    tg.tasks.extend(start_background(core.queue, tg.deliver, core.engine.reconcile))
    await application.bot.set_my_commands(menu())
    await application.start()
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else secrets.token_urlsafe(32)
        tg.webhook_secret = secret
        await application.updater.start_webhook(
            listen=settings.telegram_webhook_listen,
            port=settings.telegram_webhook_port,
            url_path=urlparse(settings.telegram_webhook_url).path.lstrip("/"),
            webhook_url=settings.telegram_webhook_url,
            secret_token=secret,
            allowed_updates=UPDATES,
        )
    else:
        await application.updater.start_polling(timeout=poll_timeout, allowed_updates=UPDATES)


def _upload_entry(engine):
    """The core's entry point for an uploaded bulk file, Engine.bulk_upload, when this core has it."""
    upload = getattr(engine, "bulk_upload", None)
    if upload is None:
        return None

    async def call(content: bytes, filename: str, actor: Actor, key: str) -> Reply:
        return await upload(actor, key, filename, content)

    return call


async def serve(settings: Settings) -> int:
    tg = await start(settings)
    mode = "webhook" if settings.telegram_webhook_url else "polling"
    print(f"SnowRail on Telegram as @{tg.application.bot.username} ({mode}); treasury {tg.core.chain.treasury}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await tg.stop()
    return 0


def run(settings: Settings) -> int:
    assert settings.telegram_bot_token is not None
    protect_logs(settings.telegram_bot_token.get_secret_value())
    return asyncio.run(serve(settings))
