"""A Reply's buttons on Discord: stateless command buttons whose custom_id says who may press them and until
when, and link buttons, which outlive them."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from core.replies import Button, Press

log = logging.getLogger("snowrail.discord")

BUTTON_TTL = 600.0  # seconds; below the 15 minutes an interaction token may edit its messages
# A command of up to three words (a plain-language preview's Confirm is a whole `/pay <to> <amount> <token>`), or
# the word `cancel` of that preview's Cancel; Discord keeps at most 100 characters of a custom_id.
CUSTOM_ID = (r"sr:(?P<owner>[0-9]{1,20}):(?P<exp>[0-9]{1,12}):"
             r"(?P<cmd>/[a-z]{1,16}( [A-Za-z0-9_.@-]{1,64}){0,3}|cancel)")
_FITS = re.compile(CUSTOM_ID)
_STYLES = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger}


def custom_id(owner_id: int | str, expires: int, command: str) -> str:
    return f"sr:{owner_id}:{expires}:{command}"


def press_of(match: re.Match[str]) -> Press:
    """The Press a custom_id matched by CUSTOM_ID stands for."""
    return Press(match["owner"], match["cmd"], int(match["exp"]))


class ReplyView(discord.ui.View):
    """The buttons of one reply. On timeout the command buttons disappear; link buttons stay."""

    def __init__(self, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.expire: Callable[[], Awaitable[object]] | None = None

    def links(self) -> discord.ui.View | None:
        kept = [i for i in self.children if isinstance(i, discord.ui.Button) and i.url]
        return _view_of(kept)

    async def on_timeout(self) -> None:
        if self.expire is None:
            return
        try:
            await self.expire()
        except discord.HTTPException as e:
            log.info("could not remove expired buttons: %s", e.status)


class CommandButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID):
    """A button standing for a command. Stateless (all it needs is in its custom_id), so it still works, or
    politely expires, after a restart."""

    def __init__(self, press: Press, *, label: str = "", style: str = "secondary") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or press.command,
                style=_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=custom_id(press.owner_id, press.expires or 0, press.command),
            )
        )
        self.press = press

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CommandButton:
        return cls(press_of(match), label=getattr(item, "label", None) or "", style="secondary")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        frontend = getattr(interaction.client, "frontend", None)
        return frontend is not None and frontend.first_delivery(interaction.id)

    async def callback(self, interaction: discord.Interaction) -> None:
        # SnowRailClient, the only client that registers this item, holds the front end (interaction_check saw it).
        await interaction.client.frontend.press(interaction, self.press)  # type: ignore[attr-defined]  # see above


def view(buttons: tuple[Button, ...], owner_id: int | str, ttl: float = BUTTON_TTL) -> discord.ui.View | None:
    """Command buttons that `owner_id` (or an operator) may press for `ttl` seconds, and link buttons."""
    if not buttons:
        return None
    expires = int(time.time() + ttl)
    out = ReplyView(ttl if any(not b.url for b in buttons) else None)
    for b in buttons[:25]:
        if b.url:
            out.add_item(discord.ui.Button(label=b.label[:80], url=b.url))
        elif len(cid := custom_id(owner_id, expires, b.command)) <= 100 and _FITS.fullmatch(cid):
            out.add_item(CommandButton(Press(str(owner_id), b.command, expires), label=b.label, style=b.style))
        else:
            log.warning("button %r left out: its command does not fit a custom_id", b.label)
    return out if out.children else None


def link_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """Only the link buttons: where no process answers a command button (a DM sent by a worker)."""
    return _view_of([b for b in buttons if b.url])


def links_only(message: Any) -> discord.ui.View | None:
    """The link buttons of a message, without its command buttons."""
    if message is None:
        return None
    kept = []
    for row in getattr(message, "components", []) or []:
        for c in getattr(row, "children", []) or []:
            if getattr(c, "url", None):
                kept.append(c)
    return _view_of(kept)


def _view_of(buttons: list[Any]) -> discord.ui.View | None:
    if not buttons:
        return None
    out = discord.ui.View(timeout=None)
    for b in buttons[:25]:
        out.add_item(discord.ui.Button(label=b.label[:80] if b.label else None, url=b.url))
    return out
