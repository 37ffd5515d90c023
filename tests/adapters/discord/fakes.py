"""Stand-ins for discord.py's Interaction (response, followup, user, message), a server message, and the engine's port."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import discord

from core.commands import Actor
from core.replies import Reply

_ids = itertools.count(1_000)
GUILD = 810000000000000001  # the configured guild: a Frontend built with guild_ids=(GUILD,) serves it
OTHER_GUILD = 810000000000000002  # someone else's server that invited the bot


def person(uid: int = 42, name: str = "alice", *roles: tuple[int, str], guild: int = GUILD):
    """A member of `guild` holding `roles` (id, name), as discord.py resolves them: roles of that guild."""
    return SimpleNamespace(id=uid, name=name, global_name=name.title(), display_name=name.title(),
                           roles=[SimpleNamespace(id=i, name=n, guild=SimpleNamespace(id=guild)) for i, n in roles])  # fmt: skip


class FakeMessage:
    def __init__(self, mid: int, ephemeral: bool = False, components=()) -> None:
        self.id = mid
        self.flags = SimpleNamespace(ephemeral=ephemeral)
        self.components = list(components)
        self.edits: list[dict] = []

    async def edit(self, **kw):
        self.edits.append(kw)
        return self


class FakeResponse:
    def __init__(self, log: list) -> None:
        self.log, self._done = log, False

    def is_done(self) -> bool:
        return self._done

    async def send_message(self, content=None, **kw):
        self._done = True
        self.log.append(("send", content, kw))

    async def defer(self, **kw):
        self._done = True
        self.log.append(("defer", None, kw))

    async def edit_message(self, **kw):
        self._done = True
        self.log.append(("edit_message", None, kw))

    async def autocomplete(self, choices):
        self._done = True
        self.log.append(("autocomplete", None, {"choices": choices}))


class FakeFollowup:
    def __init__(self, log: list) -> None:
        self.log = log

    async def send(self, content=None, **kw):
        self.log.append(("followup", content, kw))
        return FakeMessage(next(_ids))


class FakeInteraction:
    def __init__(self, user=None, *, message: FakeMessage | None = None, guild_id: int | None = GUILD,
                 kind: discord.InteractionType = discord.InteractionType.application_command) -> None:  # fmt: skip
        self.id = next(_ids)
        self.user = user or person()
        self.message = message
        self.guild_id = guild_id  # None: a DM
        self.type = kind
        self.log: list[tuple[str, str | None, dict]] = []
        self.response = FakeResponse(self.log)
        self.followup = FakeFollowup(self.log)

    async def delete_original_response(self):
        self.log.append(("delete_original", None, {}))

    async def edit_original_response(self, **kw):
        self.log.append(("edit_original", None, kw))

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.log]

    def texts(self) -> str:
        return "\n".join(c or "" for _, c, _ in self.log)


class FakeEngine:
    """The engine's port as the front end sees it: (text, actor, key) -> Reply; records every call."""

    def __init__(self, reply: Reply | None = None, *, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, Actor, str]] = []
        self.reply = reply or Reply.of("ok")
        self.delay = delay

    async def __call__(self, text: str, actor: Actor, key: str) -> Reply:
        import asyncio

        self.calls.append((text, actor, key))
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.reply



class PastedMessage:
    """A server message as discord.py hands it to on_message; `delete` fails with `refusal` when set."""

    def __init__(self, content: str, *, guild: bool = True, bot: bool = False, refusal: int | None = None, dms_closed: bool = False):
        self.content, self.webhook_id, self.refusal = content, None, refusal
        self.guild = SimpleNamespace(name="Treasury @everyone") if guild else None
        self.channel = SimpleNamespace(id=5, name="general")
        self.deleted, self.dms = False, []
        self.author = SimpleNamespace(id=42, bot=bot, send=self._dm)
        self.dms_closed = dms_closed

    async def delete(self):
        if self.refusal:
            raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), {"code": self.refusal, "message": "Missing Permissions"})
        self.deleted = True

    async def _dm(self, text, **kw):
        if self.dms_closed:
            raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), {"code": 50007, "message": "closed"})
        self.dms.append((text, kw))

