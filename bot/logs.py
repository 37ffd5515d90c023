"""Where the logs go and in what shape: text or LOG_FORMAT=json (one object a line), always through the redaction."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from bot.redaction import RedactSecrets
from bot.settings import Settings


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the traceback when there is one. The
    redaction filter has already rewritten the message and the traceback by the time this runs."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonLines() if settings.log_format == "json" else logging.Formatter(TEXT)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret a log line could quote: the keys, the bot tokens, the webhook secret, URL passwords."""
    from sqlalchemy.engine import make_url

    found = [s.get_secret_value() for s in (settings.private_key, settings.mixer_relayer_key,
                                             settings.telegram_bot_token, settings.telegram_webhook_secret,
                                             settings.discord_bot_token) if s is not None]
    for url in (settings.database_url, settings.redis_url):
        try:
            password = make_url(url).password if url else None
        except Exception:  # noqa: BLE001 - a malformed URL holds no password we could find
            password = None
        if password:
            found.append(str(password))
    return found


def redaction_for(settings: Settings) -> RedactSecrets:
    return RedactSecrets(*secrets_of(settings))
