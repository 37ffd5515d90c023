"""Who is asking on Discord (and whether Discord vouches for them as an operator), the idempotency key of what
they did, and Discord's ways of naming a person (`<@id>`, `discord:<id>`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from core.commands import Actor

PLATFORM = "discord"
_MENTION = re.compile(r"<@!?([0-9]{1,25})>")


def actor_of(user: Any, *, operator: bool = False) -> Actor:
    """The person behind an interaction. `operator`: Discord vouches for them (see DiscordFrontend.actor)."""
    name = getattr(user, "global_name", None) or getattr(user, "display_name", None) or user.name
    return Actor(PLATFORM, str(user.id), str(name), (user.name or "").lower() or None, operator)


def holds_role(user: Any, role_id: int | None, guild_id: int | None) -> bool:
    """Whether `user`, as a member of guild `guild_id`, holds the role with this id. By id only, and only a role of
    that guild: a role's name is anyone's to choose, in any server that invites the bot."""
    if role_id is None or guild_id is None:
        return False
    roles = getattr(user, "roles", None) or []  # a discord.User (DMs) has no roles
    return any(r.id == role_id and r.guild.id == guild_id for r in roles)


def interaction_key(interaction_id: int) -> str:
    """A slash command (or an upload) is keyed on its interaction: a redelivery is the same request."""
    return f"dc-{interaction_id}"


def press_key(message_id: int, command: str) -> str:
    """One key per (message, button): pressing the same button twice acts once."""
    return f"dc-{message_id}-" + hashlib.sha256(command.encode()).hexdigest()[:12]


def mentioned(word: str) -> str:
    """A mention as the Discord client sends it in a text option (`<@id>`, or `<@!id>` for a nickname) becomes the
    user ref the core reads (`discord:<id>`): a person named by their permanent id, never by a name. Other text is
    left as it is."""
    m = _MENTION.fullmatch(word.strip())
    return f"{PLATFORM}:{m.group(1)}" if m else word


def user_ref_user_id(user_ref: str) -> int:
    """`discord:<id>` -> the user's id."""
    platform, _, uid = user_ref.partition(":")
    if platform != PLATFORM or not uid.isdigit():
        raise ValueError(f"{user_ref} is not a Discord user")
    return int(uid)
