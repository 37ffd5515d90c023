"""The console chat: stdin/stdout, for the zero-setup default, scripted sessions and tests."""

from adapters.console.chat import ConsoleChat, ConsoleNotifier, render

__all__ = ["ConsoleChat", "ConsoleNotifier", "render"]
