"""Who is asking on Telegram, and the idempotency key of what they sent: a message, or a button press."""

from __future__ import annotations

from telegram import User

from core.commands import Actor

PLATFORM = "telegram"


def actor_of(user: User) -> Actor:
    return Actor(PLATFORM, str(user.id), user.full_name or "", user.username or None)


def message_key(bot_id: int, chat_id: int, message_id: int) -> str:
    """Message ids count per chat, and a private chat's id is the user's id, so the same (chat, message) pair
    comes from every bot that person talks to: the bot's own id keeps two bots on one database apart."""
    return f"tg-{bot_id}-{chat_id}-{message_id}"


def press_key(bot_id: int, chat_id: int, message_id: int, command: str, edited: int | None = None) -> str:
    """A button press is keyed on the bot, the message that carries the button, the verb pressed and the
    message's version (its edit time): a redelivered or double-tapped press is the same request, while a
    button on a later edit of the message (a second step such as "Execute anyway") is a new one."""
    verb = command.split(maxsplit=1)[0].lstrip("/").lower() if command.strip() else "press"
    return f"tg-{bot_id}-{chat_id}-{message_id}-{verb}" + (f"-e{edited}" if edited else "")


def user_ref_chat_id(user_ref: str) -> int:
    """`telegram:<id>` -> the id of that user's private chat with the bot (the same number)."""
    platform, _, uid = user_ref.partition(":")
    if platform != PLATFORM or not uid.lstrip("-").isdigit():
        raise ValueError(f"not a Telegram user ref: {user_ref!r}")
    return int(uid)
