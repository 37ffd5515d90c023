"""`.env.example` is copied by newcomers as it is: nothing in it may name a real account or hold a real secret."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"
SECRETS = ("PRIVATE_KEY", "MIXER_RELAYER_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "DISCORD_BOT_TOKEN")


def test_low_env_example_uses_placeholders_not_real_accounts_or_passwords():
    values = dotenv_values(EXAMPLE)
    refs = Settings(_env_file=EXAMPLE).operator_refs()  # the placeholders still parse, so a copy starts
    assert refs, "the example shows what OPERATORS looks like"
    for ref in refs:
        platform, _, uid = ref.partition(":")
        # Telegram and Discord user ids are numbers: a placeholder that is not one can match nobody.
        assert not uid.isdigit() and uid.startswith("<"), f"OPERATORS names a possible real account: {ref}"
    for name, value in values.items():
        if value and "://" in value:
            password = urlsplit(value).password
            assert password is None or (password.startswith("<") and password.endswith(">")), f"{name} holds a password"
    for name in SECRETS:
        assert not values.get(name), f"{name} must be empty in the example"
