"""Telegram: python-telegram-bot handlers that translate for the engine, and a token-only notifier."""

from adapters.telegram.buttons import BadCallback, CallbackCodec, keyboard
from adapters.telegram.frontend import TelegramFrontend
from adapters.telegram.limits import SendLimiter
from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.render import chunks, messages, to_html

__all__ = [
    "BadCallback",
    "CallbackCodec",
    "SendLimiter",
    "TelegramFrontend",
    "TelegramNotifier",
    "chunks",
    "keyboard",
    "messages",
    "to_html",
]
