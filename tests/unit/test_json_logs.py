"""LOG_FORMAT=json: one JSON object a line, with the same redaction as text logs."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import formatter_for, redaction_for
from bot.settings import Settings

KEY = "0x" + "ab" * 32
TOKEN = "4242:secret-telegram-token-XYZ"


def _logger(settings: Settings) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(settings))
    handler.addFilter(redaction_for(settings))
    logger = logging.getLogger("snowrail.test.jsonlogs")
    logger.handlers[:] = [handler]
    logger.propagate, logger.level = False, logging.INFO
    return logger, stream


def test_each_record_is_one_redacted_json_object():
    settings = Settings(_env_file=None, log_format="json", private_key=KEY, telegram_bot_token=TOKEN,
                        database_url="postgresql://snow:dbsecret99@db/snowrail")
    log, stream = _logger(settings)
    log.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise RuntimeError(f"signing with {KEY} failed\nsecond line")
    except RuntimeError:
        log.exception("connect to postgresql://snow:dbsecret99@db failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # a multi-line traceback stays inside its object
    first, second = (json.loads(x) for x in lines)
    assert first["level"] == "WARNING" and first["logger"] == "snowrail.test.jsonlogs"
    assert first["message"] == "calling https://api.telegram.org/bot***/getMe"
    assert "RuntimeError" in second["error"] and "***" in second["error"]
    for secret in (KEY, KEY[2:], TOKEN, "dbsecret99"):
        assert secret not in stream.getvalue()


def test_text_stays_the_default():
    log, stream = _logger(Settings(_env_file=None))
    log.info("hello")
    assert not stream.getvalue().startswith("{") and "INFO snowrail.test.jsonlogs: hello" in stream.getvalue()
