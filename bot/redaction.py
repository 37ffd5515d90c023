"""Logs without secrets: the bot token and any pasted private key or mixer note are masked in every record."""

from __future__ import annotations

import logging

from core.guard import redact as redact_pasted


class RedactSecrets(logging.Filter):
    """Replaces secrets in every record a handler emits. PTB and httpx log request URLs, and the Bot API puts
    the token in the URL path; an InvalidToken message quotes it too. Pasted keys and notes are masked as well:
    PTB at DEBUG quotes updates, and discord.py at DEBUG quotes gateway events (a MESSAGE_CREATE's content)."""

    def __init__(self, *secrets_: str) -> None:
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return redact_pasted(text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def protect_logs(token: str) -> None:
    """Attach the redaction to every root handler, and keep per-request URL logging off unless asked for."""
    redact = RedactSecrets(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    for noisy in ("httpx", "httpcore"):
        if logging.getLogger(noisy).level == logging.NOTSET:
            logging.getLogger(noisy).setLevel(logging.WARNING)
