"""Secrets pasted where others can read them (a private key, a mixer note): spotting them, and what happens next."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Protocol

from core.replies import Reply

# A raw private key: 64 hex digits standing alone. With 0x it looks like a tx hash, so that form counts
# only when the message says it is a key.
_BARE_KEY = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_PREFIXED_KEY = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_KEY_WORDS = re.compile(r"private[\s_-]*key|priv[\s_-]*key|secret|\bpk\b|seed", re.IGNORECASE)
# Mixer notes: ours (snowrail-...) and the Tornado-style shape they follow.
_NOTE = re.compile(r"\b(?:snowrail|tornado)-[a-z0-9]+-[0-9.]+-[0-9]+-0x[0-9a-fA-F]{62,}\b", re.IGNORECASE)


def secret_in(text: str) -> str | None:
    """'mixer note', 'private key', or None."""
    if not text:
        return None
    if _NOTE.search(text) or text.strip().lower().startswith("/withdraw "):
        return "mixer note"
    if _BARE_KEY.search(text):
        return "private key"
    if _PREFIXED_KEY.search(text) and _KEY_WORDS.search(text):
        return "private key"
    return None


def redact(text: str) -> str:
    """The text with mixer notes and bare private keys masked: for logs, which may quote updates."""
    return _BARE_KEY.sub("[key withheld]", _NOTE.sub("[note withheld]", text))


class Removal(Enum):
    """What became of a message holding a secret when the bot tried to delete it."""

    DELETED = "deleted"
    GONE = "gone"  # deleted already, by its author or a moderator
    REFUSED = "refused"  # the bot lacks the right to delete messages there


class PublicMessage(Protocol):
    """A message in a place others read (a group, a server channel), as a chat adapter hands it to the guard.
    The adapter deletes and warns with its own library; the guard decides whether to, and what to say."""

    @property
    def text(self) -> str: ...

    @property
    def place(self) -> str:
        """Where it was posted, as the warning names it: "the group “Team”", "#general on Our Server"."""

    @property
    def edited(self) -> bool:
        """It was edited into what it is now (a harmless message can become a secret)."""

    @property
    def right_to_delete(self) -> str:
        """The permission the bot needs to delete it, in the platform's words, for the warning if it could not."""

    async def delete(self) -> Removal: ...

    async def warn_author(self, warning: Reply) -> None:
        """Tell the author privately; a closed DM is the adapter's to log, not an error: the deletion stands."""


# Told what was found ("private key", "mixer note") and what became of the message: the admins' security alert.
Report = Callable[[str, Removal], Awaitable[None]]


async def guard(message: PublicMessage, report: Report | None = None) -> bool:
    """A secret in a public message: delete it where the bot may, warn its author privately that it is exposed, and
    `report` it (the adapters pass ChatEngine.secret_removed). Its text is never logged nor repeated. True if the
    message held one (nothing else should handle it then)."""
    what = secret_in(message.text)
    if what is None:
        return False
    removal = await message.delete()
    await message.warn_author(pasted_warning(what, message.place, removal, message.right_to_delete, edited=message.edited))
    if report is not None:
        await report(what, removal)
    return True


def pasted_warning(what: str, place: str, removal: Removal, right_to_delete: str, *, edited: bool = False) -> Reply:
    """The private warning to someone whose `what` ('mixer note' or 'private key') was seen in `place`."""
    posted = "edited a message into" if edited else "posted"
    removed = {
        Removal.DELETED: "I deleted it",
        Removal.GONE: "It has been deleted",
        Removal.REFUSED: f"I could not delete it (I need {right_to_delete} there): delete it yourself now",
    }[removal]
    act = (
        "Withdraw it now with /withdraw, here in our private chat, before someone else does"
        if what == "mixer note"
        else "Move your funds to a new wallet now, and stop using this key"
    )
    return Reply.error(
        f"You {posted} what looks like a {what} in {place}. {removed}.",
        f"Anyone who saw it can take the funds: the {what} is exposed. {act}.",
        "Send secrets only to me, here in our private chat.",
    )
