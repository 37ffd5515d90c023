"""Reply -> Discord message text: escaped spans, messages of at most 2,000 characters, files and buttons."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from core.replies import Attachment, Button, Reply, Span

LIMIT = 2000  # characters in one Discord message
NO_MENTIONS = discord.AllowedMentions.none()

_URL = re.compile(r"^https?://[^\s<>()]+$")


@dataclass(frozen=True)
class Rendered:
    """What one Reply becomes: one or more message texts, then its files and buttons (on the last message)."""

    texts: tuple[str, ...]
    files: tuple[Attachment, ...]
    buttons: tuple[Button, ...]
    private: bool


def escape(text: str) -> str:
    """User-visible text with markdown and mentions neutralised (`@everyone` cannot ping, `**` cannot bold)."""
    return escape_markdown(escape_mentions(text))


def span(s: Span) -> str:
    if s.kind == "bold":
        return f"**{escape(s.text)}**" if s.text.strip() else escape(s.text)
    if s.kind == "code":
        return _code(s.text)
    if s.kind == "link" and s.url and _URL.match(s.url):
        return f"[{escape(s.text)}](<{s.url}>)"
    if s.kind == "link":
        return f"{escape(s.text)} ({escape(s.url or '')})"
    return escape(s.text)


def _code(text: str) -> str:
    text = escape_mentions(text)
    if "\n" in text:
        return "```\n" + text.replace("```", "`\u200b``") + "\n```"
    if "`" in text:
        return "`` " + text.replace("``", "`\u200b`") + " ``"
    return f"`{text}`" if text else ""


def text_of(reply: Reply) -> str:
    return "\n".join("".join(span(s) for s in line) for line in reply.lines) or "\u200b"


def render(reply: Reply) -> Rendered:
    return Rendered(tuple(split(text_of(reply))), reply.files, reply.buttons, reply.private)


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Whole lines per message where they fit; a line longer than a message is cut."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current or not out:
        out.append(current or "\u200b")
    return out


# Discord shows an attachment inline as an image when its NAME ends like one (the content type is not consulted).
_IMAGE_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}


def files(attachments: tuple[Attachment, ...]) -> list[discord.File]:
    return [discord.File(io.BytesIO(a.content), filename=_shown_name(a)) for a in attachments]


def _shown_name(a: Attachment) -> str:
    """The file's name, ending like its image type if it is one, so a QR code shows in the message itself."""
    suffix = _IMAGE_SUFFIX.get(a.mime.lower())
    if suffix is None or a.filename.lower().endswith((suffix, ".jpeg" if suffix == ".jpg" else suffix)):
        return a.filename
    return a.filename + suffix


@dataclass(frozen=True)
class Part:
    """One Discord message of a reply: its text and, on the last one, the reply's files and buttons."""

    text: str
    attachments: tuple[Attachment, ...] = ()
    view: discord.ui.View | None = None

    def extras(self) -> dict[str, Any]:
        """The send call's keywords. Files are opened afresh on each call, so a retried send sends them again."""
        kw: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
        if self.attachments:
            kw["files"] = files(self.attachments)
        if self.view is not None:
            kw["view"] = self.view
        return kw


def parts(reply: Reply, view: discord.ui.View | None = None) -> list[Part]:
    """The reply as the messages that carry it, `view` (its buttons, as the caller may show them) on the last. The
    front end, the notifier and the pasted-secret warning all send these."""
    texts = split(text_of(reply))
    last = len(texts) - 1
    return [Part(t, reply.files, view) if i == last else Part(t) for i, t in enumerate(texts)]


__all__ = ["Rendered", "Part", "render", "parts", "escape", "split", "files", "text_of", "NO_MENTIONS", "LIMIT"]
