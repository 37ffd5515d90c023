"""Platform-neutral replies: lines of styled spans, buttons and files that each adapter renders its own way."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal

SpanKind = Literal["text", "bold", "code", "link"]


@dataclass(frozen=True)
class Span:
    text: str
    kind: SpanKind = "text"
    url: str | None = None


def bold(text: str) -> Span:
    return Span(text, "bold")


def code(text: str) -> Span:
    return Span(text, "code")


def link(text: str, url: str) -> Span:
    return Span(text, "link", url)


Line = tuple[Span, ...]


@dataclass(frozen=True)
class Button:
    """`command` is the text the button stands for: pressing it is the same as typing it."""

    label: str
    command: str = ""
    style: Literal["primary", "danger", "secondary"] = "secondary"
    url: str | None = None


@dataclass(frozen=True)
class Press:
    """A command Button pressed, as a chat adapter decodes it: the command, the platform user id of the person the
    button was shown to, and when it stops working (unix seconds) on a platform whose buttons expire."""

    owner_id: str
    command: str
    expires: int | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str = "text/csv"


@dataclass(frozen=True)
class Reply:
    lines: tuple[Line, ...]
    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()
    private: bool = False  # holds something only its owner may see: deliver in a private chat or DM
    kind: Literal["info", "ok", "error"] = "info"

    @classmethod
    def of(cls, *lines: str | Span | tuple[str | Span, ...], **kw: Any) -> Reply:
        return cls(tuple(_line(x) for x in lines), **kw)

    @classmethod
    def error(cls, *lines: str | Span | tuple[str | Span, ...], **kw: Any) -> Reply:
        return cls.of(*lines, kind="error", **kw)

    def plain(self) -> str:
        """The reply as plain text (console, logs, tests)."""
        out = []
        for line in self.lines:
            out.append("".join(s.text if s.kind != "link" else f"{s.text} ({s.url})" for s in line))
        return "\n".join(out)

    def with_buttons(self, *buttons: Button) -> Reply:
        return Reply(self.lines, self.buttons + buttons, self.files, self.private, self.kind)


def _line(x: str | Span | tuple[str | Span, ...]) -> Line:
    parts = x if isinstance(x, tuple) else (x,)
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts)


def dumps(reply: Reply) -> str:
    return json.dumps(
        {
            "lines": [[[s.text, s.kind, s.url] for s in line] for line in reply.lines],
            "buttons": [[b.label, b.command, b.style, b.url] for b in reply.buttons],
            "files": [[f.filename, base64.b64encode(f.content).decode(), f.mime] for f in reply.files],
            "private": reply.private,
            "kind": reply.kind,
        },
        ensure_ascii=False,
    )


def loads(text: str) -> Reply:
    d = json.loads(text)
    return Reply(
        lines=tuple(tuple(Span(t, k, u) for t, k, u in line) for line in d["lines"]),
        buttons=tuple(Button(*b) for b in d["buttons"]),
        files=tuple(Attachment(n, base64.b64decode(c), m) for n, c, m in d.get("files", [])),
        private=d.get("private", False),
        kind=d.get("kind", "info"),
    )


@dataclass(frozen=True)
class Outgoing:
    """A reply addressed to someone: used by notifiers."""

    user_ref: str
    reply: Reply
    dedup_key: str = field(default="")
