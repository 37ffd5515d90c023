"""Inline buttons: a Reply's buttons as a keyboard, and callback data that says who may press them, with a MAC so
forged data is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from core.replies import Press, Reply

CALLBACK_LIMIT = 64  # bytes of callback_data Telegram keeps
SAFE_URL = re.compile(r"^(https?|tg)://", re.IGNORECASE)


class BadCallback(Exception):
    """The data was not made by this bot (forged), or refers to something this process no longer holds."""


class CallbackCodec:
    """`owner|mac|command`; commands too long for 64 bytes are held in memory under a short id (`~id`)."""

    def __init__(self, secret: bytes, *, held: int = 10_000) -> None:
        self._key = hashlib.sha256(b"snowrail-callback\0" + secret).digest()
        self._held: OrderedDict[str, Press] = OrderedDict()
        self._held_max = held

    @classmethod
    def for_token(cls, token: str) -> CallbackCodec:
        """Stable across restarts of the same bot, so buttons sent before a restart still work."""
        return cls(token.encode())

    def _mac(self, owner: str, command: str) -> str:
        digest = hmac.new(self._key, f"{owner}|{command}".encode(), hashlib.sha256).digest()[:8]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def pack(self, command: str, owner_id: int | str) -> str:
        owner = str(owner_id)
        data = f"{owner}|{self._mac(owner, command)}|{command}"
        if len(data.encode()) <= CALLBACK_LIMIT:
            return data
        ref = secrets.token_urlsafe(9)
        self._held[ref] = Press(owner, command)
        while len(self._held) > self._held_max:
            self._held.popitem(last=False)
        return "~" + ref

    def unpack(self, data: str | None) -> Press:
        if not data:
            raise BadCallback("empty")
        if data.startswith("~"):
            press = self._held.get(data[1:])
            if press is None:
                raise BadCallback("no longer held")
            return press
        owner, sep, rest = data.partition("|")
        mac, sep2, command = rest.partition("|")
        if not (sep and sep2 and command) or not hmac.compare_digest(mac, self._mac(owner, command)):
            raise BadCallback("bad mac")
        return Press(owner, command)


def keyboard(reply: Reply, codec: CallbackCodec, owner_id: int | str) -> InlineKeyboardMarkup | None:
    """Command buttons carry signed callback data naming who may press them; URL buttons open links."""
    actions, links = [], []
    for b in reply.buttons:
        if b.url and SAFE_URL.match(b.url):
            links.append(InlineKeyboardButton(b.label, url=b.url))
        elif b.command:
            actions.append(InlineKeyboardButton(b.label, callback_data=codec.pack(b.command, owner_id)))
    rows = [row for row in (actions, links) if row]
    return InlineKeyboardMarkup(rows) if rows else None
