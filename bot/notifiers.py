"""Which Notifier delivers to which platform, given the settings this process has."""

from __future__ import annotations

from adapters.console import ConsoleNotifier
from bot.settings import Settings
from core.ports import Notifier


def notifiers_for(settings: Settings) -> dict[str, Notifier]:
    # Console users only exist inside a console session; a worker prints theirs to its own log.
    # Telegram and Discord senders join here with their adapters.
    return {"console": ConsoleNotifier()}
