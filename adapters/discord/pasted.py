"""A mixer note or private key pasted in a server channel: deleted where the bot may, its author warned by DM."""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord.render import NO_MENTIONS, render
from adapters.discord.retry import patient
from core.guard import secret_in
from core.replies import Reply

log = logging.getLogger("snowrail.discord")


async def pasted_secret(message: Any) -> bool:
    """A mixer note or private key posted in a server channel: delete it where we have the right to, and warn
    its author by DM that it is exposed. Its text is never logged nor repeated. True if it held one."""
    if message.guild is None or message.author.bot or message.webhook_id is not None:
        return False
    what = secret_in(message.content or "")
    if what is None:
        return False
    try:
        await patient(message.delete)
        removed = "I deleted it"
    except discord.NotFound:
        removed = "It has been deleted"
    except discord.HTTPException as e:  # 403: no Manage Messages in that channel
        log.info("could not delete a pasted %s in channel %s: HTTP %s (code %s)", what, message.channel.id, e.status, e.code)
        removed = "I could not delete it (I need the Manage Messages permission there): delete it yourself now"
    act = (
        "Withdraw it now with /withdraw, here in our DM, before someone else does"
        if what == "mixer note"
        else "Move your funds to a new wallet now, and stop using this key"
    )
    where = f"#{getattr(message.channel, 'name', None) or message.channel.id} on {message.guild.name}"
    warning = Reply.error(
        f"You posted what looks like a {what} in {where}. {removed}.",
        f"Anyone who saw it can take the funds: the {what} is exposed. {act}.",
        "Send secrets only to me in a DM, or in a private /withdraw.",
    )
    try:
        for text in render(warning).texts:
            await patient(lambda: message.author.send(text, allowed_mentions=NO_MENTIONS))  # noqa: B023
    except discord.HTTPException as e:  # DMs closed: the deletion stands, there is no one else to tell
        log.info("could not warn user %s about a pasted %s by DM (code %s)", message.author.id, what, e.code)
    return True
