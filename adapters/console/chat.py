"""Reads commands line by line, shows replies as plain text, and prints notifications as they arrive."""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from core.commands import Actor
from core.ports import Delivery
from core.replies import Reply

OPERATOR = Actor("console", "operator", "Console operator")

# `/as telegram:123 [@handle]`: act as another person (dev only, the console's own command; never on a platform).
_AS = re.compile(r"^/as\s+(?:(me)|(telegram|discord|console):([A-Za-z0-9_]{1,32})(?:\s+@?([A-Za-z0-9_]{1,32}))?)$", re.I)
AS_USAGE = "Usage: /as <platform>:<id> [@handle] (e.g. /as telegram:5 @bob), or /as me to be yourself again"

Handle = Callable[[str, Actor, str], Awaitable[Reply]]


def render(reply: Reply, files_dir: Path | None = None) -> str:
    """Plain text; buttons become the command you can type instead; files are saved under `files_dir`."""
    lines = [reply.plain()]
    for b in reply.buttons:
        lines.append(f"  [{b.label}] {b.url}" if b.url else f"  [{b.label}] type: {b.command}")
    for f in reply.files:
        if files_dir is None:
            lines.append(f"  (file {f.filename}, {len(f.content)} bytes)")
            continue
        files_dir.mkdir(parents=True, exist_ok=True)
        path = files_dir / Path(f.filename).name  # a file name from a reply never picks the directory
        path.write_bytes(f.content)
        lines.append(f"  file saved: {path}")
    return "\n".join(lines)


class ConsoleNotifier:
    """Delivers notifications for console users by printing them."""

    def __init__(self, out: TextIO | None = None, files_dir: Path | None = None) -> None:
        self.out = out or sys.stdout
        self.files_dir = files_dir

    async def send(self, user_ref: str, reply: Reply) -> Delivery:
        body = render(reply, self.files_dir).replace("\n", "\n   ")
        to = "" if user_ref.startswith("console:") else f"(to {user_ref}) "  # someone played with /as
        print(f"🔔 {to}{body}", file=self.out, flush=True)
        return Delivery(ok=True)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        return await self.send(user_ref, reply)  # printed lines cannot be edited: each update is printed anew


class ConsoleChat:
    """One chat session. `after_each` runs after every reply (the console delivers its notifications there)."""

    def __init__(
        self,
        handle: Handle,
        *,
        actor: Actor = OPERATOR,
        inp: TextIO | None = None,
        out: TextIO | None = None,
        after_each: Callable[[], Awaitable[None]] | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.handle, self.actor, self.me = handle, actor, actor
        self.played: set[str] = set()  # platforms of the people played with /as (their notifications show here)
        self.inp, self.out = inp or sys.stdin, out or sys.stdout
        self.after_each = after_each
        self.files_dir = files_dir
        self.session = secrets.token_hex(4)
        self.interactive = self.inp.isatty()

    def act_as(self, text: str) -> str:
        """`/as platform:id [@handle]` makes the next commands come from that person; `/as me` ends it."""
        m = _AS.match(text.strip())
        if m is None:
            return AS_USAGE
        if m.group(1):
            self.actor = self.me
            return f"You are yourself again ({self.me.ref})."
        platform, user_id, handle = m.group(2).lower(), m.group(3), m.group(4)
        self.actor = Actor(platform, user_id, f"{platform}:{user_id}", handle.lower() if handle else None)
        self.played.add(platform)
        named = f" (@{self.actor.handle})" if self.actor.handle else ""
        return f"You are now {self.actor.ref}{named}: the next commands come from them. /as me to return."

    async def pasted_list(self) -> str:
        """`/bulk` alone: the lines that follow, up to an empty line (or the end of input), are a pasted payout
        list, sent as one message as a chat would (`/bulk` then one `address amount [token]` a line)."""
        if self.interactive:
            self.say("Paste the payouts, one `address amount [token]` a line; an empty line ends the list.")
        lines: list[str] = []
        while True:
            if self.interactive:
                print("...> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(self.inp.readline)
            if not line.strip():
                break
            lines.append(line.strip())
        if not self.interactive:
            self.say(f"  ({len(lines)} pasted line{'' if len(lines) == 1 else 's'})")
        return "\n".join(["/bulk", *lines])

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def run(self, banner: str = "") -> None:
        if banner:
            self.say(banner)
        n = 0
        while True:
            if self.interactive:
                print("you> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(self.inp.readline)
            if not line:
                break
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.lower() in ("/quit", "/exit") and self.interactive:
                break
            n += 1
            if not self.interactive:
                self.say(f"> {text}")
            if text.lower() == "/as" or text.lower().startswith("/as "):
                self.say(self.act_as(text) + "\n")
                continue
            if text.lower() == "/bulk":
                text = await self.pasted_list()
            reply = await self.handle(text, self.actor, f"console-{self.session}-{n}")
            self.say(render(reply, self.files_dir))
            if self.after_each is not None:
                await self.after_each()
            self.say("")
