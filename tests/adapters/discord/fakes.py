"""Stand-ins for discord.py's Interaction (response, followup, user, message), a server message, and the engine's port."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import discord

from core.commands import Actor
from core.guard import Removal
from core.replies import Press, Reply

_ids = itertools.count(1_000)
GUILD = 810000000000000001  # the configured guild: a Frontend built with guild_ids=(GUILD,) serves it
OTHER_GUILD = 810000000000000002  # someone else's server that invited the bot


def person(uid: int = 42, name: str = "alice", *roles: tuple[int, str], guild: int = GUILD):
    """A member of `guild` holding `roles` (id, name), as discord.py resolves them: roles of that guild."""
    return SimpleNamespace(id=uid, name=name, global_name=name.title(), display_name=name.title(),
                           roles=[SimpleNamespace(id=i, name=n, guild=SimpleNamespace(id=guild)) for i, n in roles])  # fmt: skip


def button_row(*labels: str) -> SimpleNamespace:
    """A row of command buttons as discord.py reads them off a message."""
    return SimpleNamespace(children=[SimpleNamespace(label=n, url=None, custom_id=f"sr:{n}") for n in labels])


class FakeMessage:
    def __init__(self, mid: int, ephemeral: bool = False, components=()) -> None:
        self.id = mid
        self.flags = SimpleNamespace(ephemeral=ephemeral)
        self.components = list(components)
        self.edits: list[dict] = []

    def buttons(self) -> list[str]:
        """The labels of the buttons the message shows now."""
        return [c.label for row in self.components for c in getattr(row, "children", [])]

    async def edit(self, **kw):
        self.edits.append(kw)
        return self


class FakeResponse:
    def __init__(self, log: list, message: FakeMessage | None = None) -> None:
        self.log, self.message, self._done = log, message, False
        self.acknowledged_at: float | None = None  # time.monotonic() of the one response Discord waits for

    def is_done(self) -> bool:
        return self._done

    def _respond(self) -> None:
        self._done, self.acknowledged_at = True, time.monotonic()

    async def send_message(self, content=None, **kw):
        self._respond()
        self.log.append(("send", content, kw))

    async def defer(self, **kw):
        self._respond()
        self.log.append(("defer", None, kw))

    async def edit_message(self, **kw):
        self._respond()
        self.log.append(("edit_message", None, kw))
        if self.message is not None and "view" in kw:  # the pressed message now shows that view's buttons
            self.message.components = [] if kw["view"] is None else [SimpleNamespace(children=list(kw["view"].children))]

    async def autocomplete(self, choices):
        self._respond()
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
        self.response = FakeResponse(self.log, message)
        self.followup = FakeFollowup(self.log)

    async def delete_original_response(self):
        self.log.append(("delete_original", None, {}))

    async def edit_original_response(self, **kw):
        self.log.append(("edit_original", None, kw))

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.log]

    def texts(self) -> str:
        return "\n".join(c or "" for _, c, _ in self.log)

    def shown(self) -> list[Shown]:
        """The messages this interaction left for its user to see, oldest first, as Discord shows them: a deferred
        "thinking…" answer is replaced by the first follow-up (keeping the defer's visibility), a deleted original
        is gone. Tests assert this outcome rather than the calls that led to it."""
        screen: list[Shown | None] = []
        original: int | None = None  # the interaction's own answer, in `screen`
        thinking = False
        for kind, text, kw in self.log:
            private = bool(kw.get("ephemeral"))
            if kind == "send":
                original = len(screen)
                screen.append(Shown(text or "", private, kw.get("view")))
            elif kind == "defer" and kw.get("thinking"):
                original, thinking = len(screen), True
                screen.append(Shown("…", private, None))
            elif kind == "followup" and thinking and original is not None and (shown := screen[original]):
                screen[original], thinking = Shown(text or "", shown.private, kw.get("view")), False
            elif kind == "followup":
                screen.append(Shown(text or "", private, kw.get("view")))
            elif kind == "delete_original" and original is not None:
                screen[original], original, thinking = None, None, False
            elif kind == "edit_original" and original is not None and (shown := screen[original]):
                screen[original] = Shown(kw.get("content", shown.text), shown.private, kw.get("view", shown.view))
        return [m for m in screen if m is not None]


@dataclass(frozen=True)
class Shown:
    """One message as its user sees it."""

    text: str
    private: bool  # ephemeral: only the asker sees it
    view: Any = None  # its buttons (a discord.ui.View), if any


class FakeEngine:
    """core.ports.ChatEngine as the front end sees it: every text is answered with `reply` (after `delay`), every
    upload with `upload_reply`; `operators` (refs) may press anyone's buttons, as a Discord role does; `payments` and
    `batches` are what autocomplete lists. Records every call."""

    def __init__(
        self,
        reply: Reply | None = None,
        *,
        delay: float = 0.0,
        upload_reply: Reply | None = None,
        operators: frozenset[str] = frozenset(),
        payments: list[tuple[str, str]] | None = None,
        batches: list[tuple[str, str]] | None = None,
    ) -> None:
        self.calls: list[tuple[str, Actor, str]] = []
        self.alerts: list[tuple[str, ...]] = []  # what the front end reported for the admins' security alerts
        self.uploads: list[tuple[bytes, str, str, str]] = []  # (data, file name, actor ref, key)
        self.listed: list[tuple[str, str, int]] = []  # ("payments" | "batches", actor ref, limit)
        self.reply, self.upload_reply = reply or Reply.of("ok"), upload_reply or Reply.of("preview")
        self.delay, self.operators = delay, operators
        self.payments, self.batches = payments or [], batches or []
        self.returned_at: float | None = None  # time.monotonic() when the last call returned its reply

    async def handle_text(self, text: str, *, actor: Actor, key: str) -> Reply:
        import asyncio

        self.calls.append((text, actor, key))
        if self.delay:
            await asyncio.sleep(self.delay)
        self.returned_at = time.monotonic()
        return self.reply

    async def bulk_upload(self, actor: Actor, key: str, filename: str, data: bytes) -> Reply:
        self.uploads.append((data, filename, actor.ref, key))
        return self.upload_reply

    def may_press(self, actor: Actor, press: Press) -> bool:
        return press.owner_id == actor.user_id or actor.operator or actor.ref in self.operators

    async def own_payments(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        self.listed.append(("payments", actor.ref, limit))
        return self.payments

    async def own_batches(self, actor: Actor, limit: int) -> list[tuple[str, str]]:
        self.listed.append(("batches", actor.ref, limit))
        return self.batches

    async def secret_removed(self, actor: Actor, key: str, where: str, what: str, removal: Removal) -> None:
        self.alerts.append(("secret", actor.ref, key, where, what, removal.value))

    async def foreign_guild(self, actor: Actor, guild_id: int, what: str) -> None:
        self.alerts.append(("foreign guild", actor.ref, str(guild_id), what))



class PastedMessage:
    """A server message as discord.py hands it to on_message; `delete` fails with `refusal` when set."""

    def __init__(self, content: str, *, guild: bool = True, bot: bool = False, refusal: int | None = None, dms_closed: bool = False):
        self.content, self.webhook_id, self.refusal = content, None, refusal
        self.guild = SimpleNamespace(name="Treasury @everyone") if guild else None
        self.channel = SimpleNamespace(id=5, name="general")
        self.deleted, self.dms = False, []
        self.author = SimpleNamespace(id=42, name="pat", bot=bot, send=self._dm)
        self.id = 9001
        self.dms_closed = dms_closed

    async def delete(self):
        if self.refusal:
            raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), {"code": self.refusal, "message": "Missing Permissions"})
        self.deleted = True

    async def _dm(self, text, **kw):
        if self.dms_closed:
            raise discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), {"code": 50007, "message": "closed"})
        self.dms.append((text, kw))

