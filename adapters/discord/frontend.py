"""Interactions -> (actor, text, key) for the engine, and its Reply -> an interaction response, follow-ups and buttons."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord import buttons
from adapters.discord.buttons import BUTTON_TTL, ReplyView, links_only
from adapters.discord.identity import actor_of, holds_role, interaction_key, mentioned, press_key
from adapters.discord.notifier import patient
from adapters.discord.render import NO_MENTIONS, parts
from core.bulk.file import MAX_BYTES
from core.commands import Actor
from core.delivery import RetryAfter
from core.guard import Removal, guard
from core.ports import ChatEngine
from core.replies import Press, Reply

log = logging.getLogger("snowrail.discord")

# (actor, how many) -> [(id, label)]: the actor's own payment ids (or bulk batch ids), newest first.
OwnIds = Callable[[Actor, int], Awaitable[list[tuple[str, str]]]]

_BULK_HEAD = re.compile(r"/bulk(?=\s|$)", re.IGNORECASE)
GONE = {40060, 10062}  # interaction already acknowledged; unknown interaction (its token expired)
REFUSED_PRESS = "Only the person who asked, or an operator, can press these buttons."
REFUSED_GUILD = (
    "SnowRail does not act in this server: this bot serves only the servers its operators set up. Nothing was done."
)


class DiscordFrontend:
    """Everything an interaction needs from SnowRail; the discord.py client only routes to it. Nothing here decides
    anything about money: the engine does."""

    def __init__(
        self,
        engine: ChatEngine,
        *,
        operator_role: int | None = None,
        guild_ids: tuple[int, ...] = (),
        defer_after: float = 1.0,
        button_ttl: float = BUTTON_TTL,
        max_upload: int = MAX_BYTES,
    ) -> None:
        if operator_role is not None and not guild_ids:
            raise ValueError("an operator role counts only in configured guilds: guild_ids is empty")
        self.engine, self.operator_role, self.guild_ids = engine, operator_role, frozenset(guild_ids)
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
        await self.engine.foreign_guild(actor_of(interaction.user, operator=False), interaction.guild_id, what)
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
        await self.answer(interaction, self._call(text, actor, interaction_key(interaction.id)), private=private)

    async def bulk_file(self, interaction: Any, attachment: Any) -> None:
        actor, key = self.actor(interaction), interaction_key(interaction.id)

        async def work() -> Reply:
            if attachment.size > self.max_upload:
                return Reply.error(
                    f"file: {attachment.filename} is {_mb(attachment.size)}; /bulk files may be at most "
                    f"{_mb(self.max_upload)}. Split it into smaller files."
                )
            content = await attachment.read()
            return await self._guarded(self.engine.bulk_upload(actor, key, attachment.filename, content))

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
        if press.expires is not None and press.expires < time.time():
            await interaction.response.edit_message(view=links_only(message))
            await interaction.followup.send(
                f"These buttons have expired. Send `{press.command}` instead.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        if not self.engine.may_press(actor, press):
            await interaction.response.send_message(REFUSED_PRESS, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.edit_message(view=links_only(message))  # acknowledges, and no second press
        key = press_key(message.id if message is not None else interaction.id, press.command)
        reply = await self._call(press.command, actor, key)
        await self.deliver(interaction, reply, ephemeral=ephemeral)

    async def complete_ids(self, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        """Autocomplete of a payment id: the asker's own payments."""
        return await self._complete(self.engine.own_payments, interaction, current)

    async def complete_batches(self, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        """Autocomplete of a bulk batch id: the batches the asker uploaded (an operator too sees only theirs)."""
        return await self._complete(self.engine.own_batches, interaction, current)

    async def _complete(self, source: OwnIds, interaction: Any, current: str) -> list[discord.app_commands.Choice[str]]:
        try:
            items = await source(self.actor(interaction), 25)
        except Exception:
            log.exception("autocomplete failed")
            return []
        needle = current.strip().lower()
        return [
            discord.app_commands.Choice(name=label[:100], value=ident)
            for ident, label in items
            if needle in ident.lower() or needle in label.lower()
        ][:25]

    async def pasted_secret(self, message: Any, *, edited: bool = False) -> bool:
        """A server message: if it holds a mixer note or private key (core.guard decides), it is deleted where the
        bot may, and its author warned by DM. Direct messages, bots and webhooks are left alone. True if it held one."""
        if message.guild is None or message.author.bot or message.webhook_id is not None:
            return False
        public = ChannelMessage(message, edited=edited)
        actor = actor_of(message.author, operator=False)

        async def report(what: str, removal: Removal) -> None:  # the admins' security alert, once per message
            await self.engine.secret_removed(actor, f"dc-msg-{message.id}", public.place, what, removal)

        return await guard(public, report)

    async def pasted_bulk(self, message: Any, me: Any) -> bool:
        """A message that is `/bulk` with a payout list pasted below it, one `address amount [token]` a line (a slash
        option holds one line only), or `/bulk` with the list attached (Discord turns a long paste into message.txt):
        the same upload as a file. In a DM, or in a configured server (the bot's mention may come first). True if it
        was one; its preview is answered in the same channel."""
        if message.author.bot or message.webhook_id is not None or message.author.id == me.id:
            return False
        guild = message.guild
        if guild is not None and self.guild_ids and guild.id not in self.guild_ids:
            return False
        text = re.sub(rf"^\s*<@!?{me.id}>", "", message.content or "").lstrip()
        head = _BULK_HEAD.match(text)
        rest, attached = text[head.end():] if head else "", list(message.attachments or [])
        listed = attached and not rest.strip()  # `/bulk` and a file: the list is the file
        if head is None or not (rest.lstrip(" \t")[:1] in ("\n", "\r") or listed):
            return False  # `/bulk status …` on one line and the like are the slash command's
        vouched = guild is not None and guild.id in self.guild_ids and holds_role(message.author, self.operator_role, guild.id)
        actor, key = actor_of(message.author, operator=vouched), f"dc-msg-{message.id}"
        if not listed:
            reply = await self._call(text, actor, key)
        elif attached[0].size > self.max_upload:
            reply = Reply.error(f"file: {attached[0].filename} is {_mb(attached[0].size)}; /bulk files may be at most "
                                f"{_mb(self.max_upload)}. Split it into smaller files.")
        else:
            content = await attached[0].read()
            reply = await self._guarded(self.engine.bulk_upload(actor, key, attached[0].filename, content))
        await self._say(message, reply)
        return True

    async def plain_text(self, message: Any, me: Any) -> bool:
        """A DM, or a server message mentioning the bot, in plain words: answered with the engine's preview (the
        slash command it maps to; its Confirm button is that command). True if it was answered."""
        if message.author.bot or message.webhook_id is not None or message.author.id == me.id:
            return False
        if message.guild is not None and (not any(u.id == me.id for u in message.mentions)
                                          or (self.guild_ids and message.guild.id not in self.guild_ids)):
            return False
        words = re.sub(rf"<@!?{me.id}>", " ", message.content or "").split()
        text = " ".join(mentioned(w) for w in words)
        if not text or text.startswith("/"):
            return False
        reply = await self._call(text, actor_of(message.author, operator=False), f"dc-msg-{message.id}")
        await self._say(message, reply)
        return True

    async def _say(self, message: Any, reply: Reply) -> None:
        """The reply to a message, in its channel; its buttons are for the message's author (or an operator)."""
        view = buttons.view(reply.buttons, message.author.id, self.button_ttl)
        for part in parts(reply, view):
            await patient(lambda: message.channel.send(part.text, **part.extras()))  # noqa: B023

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
        hidden = ephemeral or reply.private
        view = buttons.view(reply.buttons, interaction.user.id, self.button_ttl)
        edit: Callable[..., Awaitable[object]] = interaction.edit_original_response
        for part in parts(reply, view):
            # part.extras() in each attempt: a retried send needs its files afresh (discord.py closes them).
            if not interaction.response.is_done():
                respond = interaction.response.send_message
                await patient(lambda: respond(part.text, ephemeral=hidden, **part.extras()))  # noqa: B023
                edit = interaction.edit_original_response
            else:
                follow = interaction.followup.send
                msg = await patient(lambda: follow(part.text, wait=True, ephemeral=hidden, **part.extras()))  # noqa: B023
                edit = msg.edit
        if isinstance(view, ReplyView) and view.timeout is not None:
            view.expire = lambda: edit(view=view.links())

    # ------------------------------------------------------------ the engine
    async def _call(self, text: str, actor: Actor, key: str) -> Reply:
        entry = self._locks.setdefault(key, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:  # the same key twice at once (a double press): the second waits, then gets the replay
                return await self._guarded(self.engine.handle_text(text, actor=actor, key=key))
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


class ChannelMessage:
    """A server message as core.guard.PublicMessage: deleted and its author warned through discord.py. Its text is
    never logged: a failure is logged by ids only."""

    right_to_delete = "the Manage Messages permission"

    def __init__(self, message: Any, *, edited: bool = False) -> None:
        self.message, self.text, self.edited = message, message.content or "", edited
        channel = getattr(message.channel, "name", None) or message.channel.id
        self.place = f"#{channel} on {message.guild.name}"

    async def delete(self) -> Removal:
        try:
            await patient(self.message.delete)
            return Removal.DELETED
        except discord.NotFound:
            return Removal.GONE
        except (discord.HTTPException, RetryAfter) as e:  # 403: no Manage Messages in that channel
            log.info("could not delete a pasted secret in channel %s: %s", self.message.channel.id, _why(e))
            return Removal.REFUSED

    async def warn_author(self, warning: Reply) -> None:
        author = self.message.author
        try:
            for part in parts(warning):
                await patient(lambda: author.send(part.text, **part.extras()))  # noqa: B023
        except (discord.HTTPException, RetryAfter) as e:  # DMs closed: the deletion stands, there is no one else to tell
            log.info("could not warn user %s about a pasted secret by DM: %s", author.id, _why(e))


def _why(e: Exception) -> str:
    return f"HTTP {e.status} (code {e.code})" if isinstance(e, discord.HTTPException) else str(e)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


__all__ = ["DiscordFrontend", "ChannelMessage", "REFUSED_GUILD", "REFUSED_PRESS", "GONE"]
