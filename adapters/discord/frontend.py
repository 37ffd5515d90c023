"""Interactions -> (actor, text, key) for the engine, and its Reply -> an interaction response, follow-ups and buttons."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord.pasted import pasted_secret
from adapters.discord.render import NO_MENTIONS, files, render
from adapters.discord.retry import patient
from core.commands import Actor
from core.replies import Button, Reply

log = logging.getLogger("snowrail.discord")

# (text, actor, key) -> Reply: the engine's handle_text, which never raises.
Handle = Callable[[str, Actor, str], Awaitable[Reply]]
# (file bytes, file name, actor, key) -> Reply: the core's entry point for an uploaded bulk file.
Upload = Callable[[bytes, str, Actor, str], Awaitable[Reply]]
# (actor ref, how many) -> [(id, label)]: the actor's own payment ids (or bulk batch ids), newest first.
RecentIds = Callable[[str, int], Awaitable[list[tuple[str, str]]]]

MAX_UPLOAD = 5_000_000  # our limit for /bulk files (core.bulk); Discord itself allows 10 MiB
BUTTON_TTL = 600.0  # seconds; below the 15 minutes an interaction token may edit its messages
CUSTOM_ID = r"sr:(?P<owner>[0-9]{1,20}):(?P<exp>[0-9]{1,12}):(?P<cmd>/[a-z]{1,16}( [A-Za-z0-9_-]{1,64}){0,2})"
_FITS = re.compile(CUSTOM_ID)
GONE = {40060, 10062}  # interaction already acknowledged; unknown interaction (its token expired)
REFUSED_PRESS = "Only the person who asked, or an operator, can press these buttons."
REFUSED_GUILD = (
    "SnowRail does not act in this server: this bot serves only the servers its operators set up. Nothing was done."
)


@dataclass(frozen=True)
class Press:
    """A button press, decoded from its custom_id."""

    owner_id: int
    expires: int
    command: str


def custom_id(owner_id: int, expires: int, command: str) -> str:
    return f"sr:{owner_id}:{expires}:{command}"


def actor_of(user: Any, *, operator: bool = False) -> Actor:
    """The person behind an interaction. `operator`: Discord vouches for them (see Frontend.actor)."""
    name = getattr(user, "global_name", None) or getattr(user, "display_name", None) or user.name
    return Actor("discord", str(user.id), str(name), (user.name or "").lower() or None, operator)


def holds_role(user: Any, role_id: int | None, guild_id: int | None) -> bool:
    """Whether `user`, as a member of guild `guild_id`, holds the role with this id. By id only, and only a role of
    that guild: a role's name is anyone's to choose, in any server that invites the bot."""
    if role_id is None or guild_id is None:
        return False
    roles = getattr(user, "roles", None) or []  # a discord.User (DMs) has no roles
    return any(r.id == role_id and r.guild.id == guild_id for r in roles)


def press_key(message_id: int, command: str) -> str:
    """One key per (message, button): pressing the same button twice acts once."""
    return f"dc-{message_id}-" + hashlib.sha256(command.encode()).hexdigest()[:12]


class Frontend:
    """Everything an interaction needs from SnowRail; the discord.py client only routes to it."""

    def __init__(
        self,
        handle: Handle,
        *,
        is_operator: Callable[[Actor], bool] = lambda actor: actor.operator,
        operator_role: int | None = None,
        guild_ids: tuple[int, ...] = (),
        upload: Upload | None = None,
        recent_ids: RecentIds | None = None,
        recent_batches: RecentIds | None = None,
        defer_after: float = 1.0,
        button_ttl: float = BUTTON_TTL,
        max_upload: int = MAX_UPLOAD,
    ) -> None:
        self.handle, self.upload, self.recent_ids, self.recent_batches = handle, upload, recent_ids, recent_batches
        if operator_role is not None and not guild_ids:
            raise ValueError("an operator role counts only in configured guilds: guild_ids is empty")
        self.is_operator, self.operator_role, self.guild_ids = is_operator, operator_role, frozenset(guild_ids)
        self.defer_after, self.button_ttl, self.max_upload = defer_after, button_ttl, max_upload
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._locks: dict[str, _KeyLock] = {}

    # ------------------------------------------------------------ entry points
    def first_delivery(self, interaction_id: int) -> bool:
        """False for an interaction already received (the gateway can deliver one twice)."""
        if interaction_id in self._seen:
            log.info("interaction %s delivered again; ignored", interaction_id)
            return False
        self._seen[interaction_id] = None
        if len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        return True

    def actor(self, interaction: Any) -> Actor:
        """Who is asking. Only a member of a configured guild holding the operator role (by id) is vouched for; a DM
        carries no guild, so there a role never counts."""
        gid = interaction.guild_id
        vouched = gid in self.guild_ids and holds_role(interaction.user, self.operator_role, gid)
        return actor_of(interaction.user, operator=vouched)

    def foreign(self, interaction: Any) -> bool:
        """An interaction from a server outside DISCORD_GUILD_IDS (when that is set). A DM is not foreign."""
        gid = interaction.guild_id
        return bool(self.guild_ids) and gid is not None and gid not in self.guild_ids

    async def admit(self, interaction: Any, what: str) -> bool:
        """False, after a refusal the asker can read, for an interaction from a foreign server; the attempt is
        logged by ids only (`what` names the command, never its options: they may hold a note)."""
        if not self.foreign(interaction):
            return True
        log.warning(
            "refused %s from user %s in guild %s: that guild is not in DISCORD_GUILD_IDS",
            what, interaction.user.id, interaction.guild_id,
        )  # fmt: skip
        try:
            if interaction.type is discord.InteractionType.autocomplete:
                await interaction.response.autocomplete([])
            else:
                await patient(
                    lambda: interaction.response.send_message(REFUSED_GUILD, ephemeral=True, allowed_mentions=NO_MENTIONS)
                )
        except discord.HTTPException as e:
            if e.code not in GONE:
                raise
        return False

    async def command(self, interaction: Any, text: str, *, private: bool = False) -> None:
        """A slash command, as the text it stands for. `private`: its answer is only for the asker."""
        actor = self.actor(interaction)
        await self.answer(interaction, self._call(text, actor, f"dc-{interaction.id}"), private=private)

    async def bulk_file(self, interaction: Any, attachment: Any) -> None:
        actor = self.actor(interaction)
        key = f"dc-{interaction.id}"

        async def work() -> Reply:
            if attachment.size > self.max_upload:
                return Reply.error(
                    f"file: {attachment.filename} is {_mb(attachment.size)}; /bulk files may be at most "
                    f"{_mb(self.max_upload)}. Split it into smaller files."
                )
            if self.upload is None:
                # The core has no upload entry point yet: answer what /bulk upload says today.
                return await self._call("/bulk upload", actor, key)
            content = await attachment.read()
            return await self._guarded(self.upload(content, attachment.filename, actor, key))

        # Downloading and checking up to 10,000 rows can take a while: acknowledge at once.
        await self.answer(interaction, work(), patience=0.0)

    async def press(self, interaction: Any, press: Press) -> None:
        """A button: only its owner or an operator may press it, once, before it expires, in a configured guild."""
        if not await self.admit(interaction, f"a {press.command.split(' ', 1)[0]} button"):
            return
        actor = self.actor(interaction)
        message = interaction.message
        ephemeral = bool(message is not None and message.flags.ephemeral)
        try:
            await self._press(interaction, actor, message, ephemeral, press)
        except discord.HTTPException as e:
            if e.code not in GONE:
                raise
            log.info("button press %s already answered or expired (code %s)", interaction.id, e.code)

    async def _press(self, interaction: Any, actor: Actor, message: Any, ephemeral: bool, press: Press) -> None:
        if press.expires < time.time():
            await interaction.response.edit_message(view=links_only(message))
            await interaction.followup.send(
                f"These buttons have expired. Send `{press.command}` instead.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        if interaction.user.id != press.owner_id and not self.is_operator(actor):
            await interaction.response.send_message(REFUSED_PRESS, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.edit_message(view=links_only(message))  # acknowledges, and no second press
        key = press_key(message.id if message is not None else interaction.id, press.command)
        reply = await self._call(press.command, actor, key)
        await self.deliver(interaction, reply, ephemeral=ephemeral)

    async def complete_ids(self, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        """Autocomplete of a payment id: the asker's own payments."""
        return await self._complete(self.recent_ids, interaction, current)

    async def complete_batches(self, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        """Autocomplete of a bulk batch id: the batches the asker uploaded (an operator too sees only theirs)."""
        return await self._complete(self.recent_batches, interaction, current)

    async def _complete(self, source: RecentIds | None, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        if source is None:
            return []
        try:
            items = await source(self.actor(interaction).ref, 25)
        except Exception:
            log.exception("autocomplete failed")
            return []
        needle = current.strip().lower()
        return [
            discord.app_commands.Choice(name=label[:100], value=ident)
            for ident, label in items
            if needle in ident.lower() or needle in label.lower()
        ][:25]

    async def pasted_secret(self, message: Any) -> bool:
        """A mixer note or private key posted in a server channel: see adapters.discord.pasted."""
        return await pasted_secret(message)

    # ------------------------------------------------------------ answering
    async def answer(
        self, interaction: Any, work: Awaitable[Reply], *, private: bool = False, patience: float | None = None
    ) -> None:
        """Answer at once when the work is quick; otherwise defer inside Discord's 3 s, then follow up.
        An interaction that was answered already (redelivered after a restart) or has expired gets no answer;
        its work still runs, and the engine's key makes it act at most once."""
        task = asyncio.ensure_future(work)
        try:
            await self._answer(interaction, task, private, self.defer_after if patience is None else patience)
        except discord.HTTPException as e:
            if e.code not in GONE:
                raise
            log.info("interaction %s already answered or expired (code %s); reply dropped", interaction.id, e.code)
            await task

    async def _answer(self, interaction: Any, task: asyncio.Future[Reply], private: bool, patience: float) -> None:
        placeholder = False
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), patience)
        except TimeoutError:
            await interaction.response.defer(ephemeral=private, thinking=True)
            placeholder = not private
            reply = await task
        if placeholder and reply.private:
            # A public "thinking…" placeholder must not turn into a private answer: drop it, answer privately.
            await interaction.delete_original_response()
        await self.deliver(interaction, reply, ephemeral=private)

    async def deliver(self, interaction: Any, reply: Reply, *, ephemeral: bool = False) -> None:
        """The reply as the interaction's response if it has none yet, else as follow-ups; buttons on the last."""
        out = render(reply)
        hidden = ephemeral or out.private
        view = self.view(reply.buttons, interaction.user.id)
        last = len(out.texts) - 1
        for i, text in enumerate(out.texts):

            def extra(final: bool = i == last) -> dict[str, Any]:  # fresh files for each attempt
                kw: dict[str, Any] = {"ephemeral": hidden, "allowed_mentions": NO_MENTIONS}
                if final and out.files:
                    kw["files"] = files(out.files)
                if final and view is not None:
                    kw["view"] = view
                return kw

            if not interaction.response.is_done():
                await patient(lambda: interaction.response.send_message(text, **extra()))  # noqa: B023
                edit: Callable[..., Awaitable[object]] = interaction.edit_original_response
            else:
                msg = await patient(lambda: interaction.followup.send(text, wait=True, **extra()))  # noqa: B023
                edit = msg.edit
            if i == last and isinstance(view, ReplyView) and view.timeout is not None:
                view.expire = lambda edit=edit, view=view: edit(view=view.links())

    def view(self, buttons: tuple[Button, ...], owner_id: int) -> discord.ui.View | None:
        if not buttons:
            return None
        expires = int(time.time() + self.button_ttl)
        view = ReplyView(self.button_ttl if any(not b.url for b in buttons) else None)
        for b in buttons[:25]:
            if b.url:
                view.add_item(discord.ui.Button(label=b.label[:80], url=b.url))
            elif _FITS.fullmatch(custom_id(owner_id, expires, b.command)):
                view.add_item(CommandButton(Press(owner_id, expires, b.command), label=b.label, style=b.style))
            else:
                log.warning("button %r left out: its command does not fit a custom_id", b.label)
        return view if view.children else None

    # ------------------------------------------------------------ the engine
    async def _call(self, text: str, actor: Actor, key: str) -> Reply:
        entry = self._locks.setdefault(key, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:  # the same key twice at once (a double press): the second waits, then gets the replay
                return await self._guarded(self.handle(text, actor, key))
        finally:
            entry.users -= 1
            if not entry.users:
                self._locks.pop(key, None)

    async def _guarded(self, work: Awaitable[Reply]) -> Reply:
        try:
            return await work
        except Exception:
            ref = "E-" + secrets.token_hex(3)
            log.exception("unexpected failure %s in the Discord front end", ref)
            return Reply.error(f"Sorry, something went wrong on our side (reference {ref}). Nothing was paid twice.")


@dataclass
class _KeyLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


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
        styles = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger}
        super().__init__(
            discord.ui.Button(
                label=label[:80] or press.command,
                style=styles.get(style, discord.ButtonStyle.secondary),
                custom_id=custom_id(press.owner_id, press.expires, press.command),
            )
        )
        self.press = press

    @classmethod
    async def from_custom_id(cls, interaction, item, match, /):  # type: ignore[override]
        press = Press(int(match["owner"]), int(match["exp"]), match["cmd"])
        return cls(press, label=item.label or "", style="secondary")

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        frontend = getattr(interaction.client, "frontend", None)
        return frontend is not None and frontend.first_delivery(interaction.id)

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.frontend.press(interaction, self.press)  # type: ignore[attr-defined]


def links_only(message: Any) -> discord.ui.View | None:
    """The link buttons of a message, without its command buttons."""
    if message is None:
        return None
    kept = []
    for row in getattr(message, "components", []) or []:
        for c in getattr(row, "children", []) or []:
            if getattr(c, "url", None):
                kept.append(discord.ui.Button(label=c.label, url=c.url))
    return _view_of(kept)


def _view_of(buttons: list[discord.ui.Button]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b in buttons:
        view.add_item(discord.ui.Button(label=b.label, url=b.url))
    return view


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


__all__ = ["Frontend", "CommandButton", "ReplyView", "Press", "actor_of", "holds_role", "press_key", "custom_id", "MAX_UPLOAD"]
