"""Reply -> Telegram HTML text and inline keyboard; every piece of text is escaped here and nowhere else."""

from __future__ import annotations

import re
from html import escape, unescape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram.callbacks import CallbackCodec
from core.replies import Reply, Span

MESSAGE_LIMIT = 4096  # Telegram's limit on a message's text, counted after entity parsing
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SAFE_URL = re.compile(r"^(https?|tg)://", re.IGNORECASE)


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def span_html(span: Span) -> str:
    text = escape(span.text, quote=False)
    if span.kind == "bold":
        return f"<b>{text}</b>"
    if span.kind == "code":
        if _ADDRESS.match(span.text):
            # Short to read at a glance; the full value beside it copies with a tap.
            return f"{escape(short_address(span.text))} <code>{text}</code>"
        return f"<code>{text}</code>"
    if span.kind == "link":
        if span.url and _SAFE_URL.match(span.url):
            return f'<a href="{escape(span.url, quote=True)}">{text}</a>'
        return text
    return text


def line_html(line) -> str:
    return "".join(span_html(s) for s in line)


def to_html(reply: Reply) -> str:
    return "\n".join(line_html(line) for line in reply.lines) or "…"


def chunks(reply: Reply, limit: int = MESSAGE_LIMIT - 96) -> list[str]:
    """The reply's HTML split at line boundaries into messages Telegram accepts; tags never cross a split.
    Telegram counts the limit on visible text; the margin covers what rendering adds (short addresses)."""
    pieces: list[tuple[int, str]] = []
    for line in reply.lines:
        plain = "".join(s.text for s in line)
        if len(plain) <= limit:
            pieces.append((len(plain), line_html(line)))
        else:  # one enormous line: plain text cut into pieces, so no tag is broken
            pieces += [(len(plain[i : i + limit]), escape(plain[i : i + limit], quote=False)) for i in range(0, len(plain), limit)]
    out: list[str] = []
    size, current = 0, []
    for n, html in pieces:
        if current and size + 1 + n > limit:
            out.append("\n".join(current))
            size, current = 0, []
        current.append(html)
        size += n + 1
    if current:
        out.append("\n".join(current))
    return out or ["…"]


def html_to_text(html: str) -> str:
    """Our own HTML back to plain text (tags dropped, entities decoded): the fallback if Telegram refuses it."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def keyboard(reply: Reply, codec: CallbackCodec, owner_id: int | str) -> InlineKeyboardMarkup | None:
    """Command buttons carry signed callback data naming who may press them; URL buttons open links."""
    actions, links = [], []
    for b in reply.buttons:
        if b.url and _SAFE_URL.match(b.url):
            links.append(InlineKeyboardButton(b.label, url=b.url))
        elif b.command:
            actions.append(InlineKeyboardButton(b.label, callback_data=codec.pack(b.command, owner_id)))
    rows = [row for row in (actions, links) if row]
    return InlineKeyboardMarkup(rows) if rows else None
