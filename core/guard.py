"""Spots secrets pasted where others can read them (a private key, a mixer note), for every platform to delete."""

from __future__ import annotations

import re

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
