"""Reply -> Telegram HTML messages, the keyboard on the last; every piece of text is escaped here and nowhere else."""

from __future__ import annotations

import re
from html import escape, unescape

from telegram import InlineKeyboardMarkup

from adapters.telegram.buttons import SAFE_URL, CallbackCodec, keyboard
from core.replies import Reply, Span

MESSAGE_LIMIT = 4096  # Telegram's limit on a message's text, counted after entity parsing
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


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
        if span.url and SAFE_URL.match(span.url):
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
    current: list[str] = []
    size = 0
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


def messages(reply: Reply, codec: CallbackCodec, owner_id: int | str) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The reply as the Telegram messages that carry it: HTML texts, with its keyboard on the last one. The front
    end and the notifier both send these; files follow (adapters.telegram.files: images as photos)."""
    texts, markup = chunks(reply), keyboard(reply, codec, owner_id)
    return [(text, markup if i == len(texts) - 1 else None) for i, text in enumerate(texts)]
