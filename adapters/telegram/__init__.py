"""Telegram: python-telegram-bot handlers that translate for the engine, and a token-only notifier."""

from adapters.telegram.callbacks import BadCallback, CallbackCodec
from adapters.telegram.frontend import MAX_UPLOAD, TelegramFrontend
from adapters.telegram.limits import SendLimiter
from adapters.telegram.notifier import TelegramNotifier
from adapters.telegram.render import chunks, keyboard, to_html

__all__ = [
    "BadCallback",
    "CallbackCodec",
    "MAX_UPLOAD",
    "SendLimiter",
    "TelegramFrontend",
    "TelegramNotifier",
    "chunks",
    "keyboard",
    "to_html",
]
