"""Update -> (Actor, text, idempotency key): what the engine needs to know about a Telegram message."""

from __future__ import annotations

import re

from telegram import Chat, Message, User

from core.commands import Actor

PLATFORM = "telegram"
_COMMAND_HEAD = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?")


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


def command_name(text: str) -> str | None:
    m = _COMMAND_HEAD.match(text.strip())
    return m.group(1).lower() if m else None


def addressed_elsewhere(text: str, bot_username: str | None) -> bool:
    """`/cmd@OtherBot`: meant for another bot in the same group."""
    m = _COMMAND_HEAD.match(text.strip())
    return bool(m and m.group(2) and bot_username and m.group(2).lower() != bot_username.lower())


def is_private(chat: Chat) -> bool:
    return chat.type == Chat.PRIVATE


def user_ref_chat_id(user_ref: str) -> int:
    platform, _, uid = user_ref.partition(":")
    if platform != PLATFORM or not uid.lstrip("-").isdigit():
        raise ValueError(f"not a Telegram user ref: {user_ref!r}")
    return int(uid)


def text_of(message: Message) -> str:
    return message.text or message.caption or ""
