"""Every setting SnowRail reads, from the environment (or a .env file), with secrets kept secret."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.ratelimit import RateLimits, parse_rate


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    rpc_url: str | None = None
    chain_id: int | None = None
    private_key: SecretStr | None = None  # raw: for dev chains; warned about on Cronos (25, 338)
    # An Ethereum keystore (`snowrail keys new`) and the file holding its password (a Docker/Kubernetes secret):
    # unlocked once here, into private_key. Use them instead of PRIVATE_KEY on real chains.
    private_key_file: Path | None = None
    private_key_password_file: Path | None = None
    settlement_contract_address: str | None = None
    mixer_contract_address: str | None = None  # "0xPool[@creation block],..." one pool per denomination
    mixer_relayer_key: SecretStr | None = None  # pays withdrawals' gas; not PRIVATE_KEY
    mixer_relayer_key_file: Path | None = None  # a keystore instead, as PRIVATE_KEY_FILE
    mixer_relayer_key_password_file: Path | None = None
    mixer_relayer_fee: str = "0"  # whole native units taken per relayed withdrawal
    # Relays the pool may refuse (the relayer's gas at stake) per note and per user in an hour, then no more tries.
    mixer_failed_relays_per_note_per_hour: int = Field(default=2, ge=1)
    mixer_failed_relays_per_user_per_hour: int = Field(default=5, ge=1)
    operators: str = ""
    admins: str = ""  # always admins: a role changed in chat never demotes them
    approvers: str = ""
    tokens: str = ""
    explorer_url: str | None = None
    pay_confirm_above: str = ""
    # Security alerts when the treasury holds less, per token ("CRO=50,USDC=1000"); GAS=<native units> is the
    # executor's gas floor, else the native token's entry applies to the executor too.
    low_balance_alert: str = ""
    receipt_timeout_seconds: int = 30
    # Chainlink AggregatorV3 feeds, "CRO/USD=0x…,ETH/USD=0x…". Unset on a dev chain: its DevPriceFeed (CRO/USD).
    price_feeds: str = ""
    price_max_age_seconds: int = Field(default=3600, ge=1)  # an older feed answer is stale: no condition fires on it
    escrow_expiry_days: int = Field(default=30, ge=1, le=3650)  # an intent without "until <date>" expires after this
    tx_pending_notice_seconds: int = Field(default=120, ge=1)  # unmined this long: one transaction_pending DM
    price_alerts_max_per_user: int = Field(default=20, ge=1)  # active /alert price alerts per person
    bot_name: str = Field(default="SnowRail", min_length=1, max_length=64)  # the team or bot that pays, in DMs
    # A payment strictly above this (per token, whole units, e.g. CRO=100,USDC=500) waits for APPROVALS_REQUIRED
    # distinct approvers (never the requester) for at most APPROVAL_TTL ("<number><s|m|h|d>"). Unset: none wait.
    approval_threshold: str = ""
    approvals_required: int = Field(default=2, ge=1)
    approval_ttl: str = "24h"
    # Schedules: a run missed while the bot was down is paid on return only within SCHEDULE_GRACE_HOURS (older ones
    # are reported missed); owners are reminded SCHEDULE_REMIND_BEFORE ("<number><s|m|h|d>", 0m: never) before a run.
    schedule_grace_hours: int = Field(default=24, ge=0)
    schedule_remind_before: str = "1h"
    schedule_max_per_user: int = Field(default=50, ge=1)
    # Per operator over a rolling 24 h (per token, whole units, e.g. CRO=1000,USDC=5000): payments, bulk rows and
    # mixer deposits, pending, approved or sent. Above it a request waits for approvals as if above
    # APPROVAL_THRESHOLD, and is refused when nobody may approve it. Unset: no daily limit.
    operator_daily_limit: str = ""
    bulk_chunk_size: int | None = None  # payouts per on-chain batch; unset = as many as the gas cap allows
    # Per person, counted in the database (shared by every process); 0 = no limit.
    bulk_uploads_per_hour: int = Field(default=20, ge=0)  # payout files sent (checked or stored)
    bulk_rows_per_day: int = Field(default=50_000, ge=0)  # rows read from those files per UTC day
    bulk_max_rows: int = Field(default=10_000, ge=1)  # rows per file sent in chat; `snowrail bulk run` for more
    # Incoming commands per person, "N/<number><s|m|h>" (0 or off = no limit); in Redis when REDIS_URL is set.
    rate_limit_pay: str = "10/1m"
    rate_limit_bulk_upload: str = "2/5m"  # payout files (attachments, or the console's /bulk upload PATH)
    rate_limit_default: str = "30/1m"  # every other command
    data_dir: Path = Path(".snowrail")
    log_level: str = "WARNING"
    log_format: str = "text"  # or "json": one object a line (redacted like the text)
    # /healthz, /readyz and /metrics (Prometheus) on this port in every run mode; unset: not served.
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_listen: str = "0.0.0.0"
    # The web dashboard (bot.web_mode): served on WEB_PORT by `snowrail run web`, and beside the console when set.
    # WEB_BASE_URL is where people reach it (behind a reverse proxy: the public https URL); links point there.
    web_port: int | None = Field(default=None, ge=0, le=65535)
    web_listen: str = "127.0.0.1"
    web_base_url: str = ""  # unset: http://127.0.0.1:WEB_PORT
    web_secret: SecretStr | None = None  # signs sign-in links and sessions; unset: generated into DATA_DIR/web_secret
    web_session_hours: int = Field(default=12, ge=1, le=24 * 30)

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    telegram_webhook_url: str | None = None  # set = webhook mode (Telegram POSTs updates to this URL)
    telegram_webhook_secret: SecretStr | None = None  # unset = a random one for each start
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = 8443
    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"
    discord_guild_ids: str = ""  # comma-separated; the bot serves (and registers its commands in) only these guilds
    discord_operator_role: str = ""  # a role id (never a name); its members in DISCORD_GUILD_IDS are operators

    @field_validator(
        "database_url", "redis_url", "rpc_url", "settlement_contract_address", "mixer_contract_address",
        "explorer_url", "telegram_webhook_url", "chain_id", "bulk_chunk_size", "private_key", "mixer_relayer_key",
        "telegram_bot_token", "telegram_webhook_secret", "discord_bot_token", "private_key_file",
        "private_key_password_file", "mixer_relayer_key_file", "mixer_relayer_key_password_file", "health_port",
        "web_port", "web_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, v):
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v.strip().lower() not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT: “{v[:20]}” should be text or json")
        return v.strip().lower()

    @model_validator(mode="after")
    def _keystores(self) -> Settings:
        """PRIVATE_KEY_FILE and MIXER_RELAYER_KEY_FILE unlocked into the keys every other part reads."""
        from bot.keys import load_keystore

        for name, password in (("private_key", self.private_key_password_file),
                               ("mixer_relayer_key", self.mixer_relayer_key_password_file)):
            path = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                raise ConfigError(f"{name.upper()} and {name.upper()}_FILE are both set; keep one (the file)")
            setattr(self, name, SecretStr(load_keystore(path, password, f"{name.upper()}_FILE")))
        return self

    def operator_refs(self) -> frozenset[str]:
        return _refs("OPERATORS", self.operators)

    def admin_refs(self) -> frozenset[str]:
        return _refs("ADMINS", self.admins)

    def approver_refs(self) -> frozenset[str]:
        """APPROVERS; a person also in OPERATORS is refused (one role each: an admin is both)."""
        approvers = _refs("APPROVERS", self.approvers)
        both = sorted((approvers & self.operator_refs()) - self.admin_refs())
        if both:
            raise ConfigError(f"APPROVERS: {both[0]} is in OPERATORS too; a person holds one role: list them in "
                              "ADMINS (who may do both) or in one of the two")
        return approvers

    def confirm_limits(self) -> dict[str, str]:
        out = {}
        for part in filter(None, (p.strip() for p in self.pay_confirm_above.split(","))):
            symbol, _, amount = part.partition("=")
            if not symbol or not amount:
                raise ConfigError(f"PAY_CONFIRM_ABOVE: “{part}” should look like CRO=100")
            out[symbol.strip().upper()] = amount.strip()
        return out

    def low_balance_limits(self) -> dict[str, str]:
        """LOW_BALANCE_ALERT as {symbol or "GAS": amount in whole units}; the amounts are checked against the chain's tokens."""
        out = {}
        for part in filter(None, (p.strip() for p in self.low_balance_alert.split(","))):
            symbol, _, amount = part.partition("=")
            if not symbol.strip() or not amount.strip():
                raise ConfigError(f"LOW_BALANCE_ALERT: “{part[:40]}” should look like CRO=50 (or GAS=5 for the executor's gas)")
            out[symbol.strip().upper()] = amount.strip()
        return out

    def approval_thresholds(self) -> dict[str, str]:
        return _token_amounts("APPROVAL_THRESHOLD", self.approval_threshold)

    def operator_daily_limits(self) -> dict[str, str]:
        return _token_amounts("OPERATOR_DAILY_LIMIT", self.operator_daily_limit)

    def schedule_remind_before_delta(self) -> timedelta:
        m = _DURATION.match(self.schedule_remind_before)
        if not m:
            raise ConfigError(f"SCHEDULE_REMIND_BEFORE: “{self.schedule_remind_before[:40]}” should look like 1h, 30m or 0m (never)")
        return timedelta(seconds=int(m.group(1)) * _DURATION_UNITS[m.group(2).lower()])

    def approval_ttl_delta(self) -> timedelta:
        m = _DURATION.match(self.approval_ttl)
        if not m or int(m.group(1)) == 0:
            raise ConfigError(f"APPROVAL_TTL: “{self.approval_ttl[:40]}” should look like 24h, 90m or 2d (more than 0)")
        return timedelta(seconds=int(m.group(1)) * _DURATION_UNITS[m.group(2).lower()])

    def rate_limits(self) -> RateLimits:
        rates = {}
        for name in ("rate_limit_pay", "rate_limit_bulk_upload", "rate_limit_default"):
            try:
                rates[name.removeprefix("rate_limit_")] = parse_rate(getattr(self, name))
            except ValueError as e:
                raise ConfigError(f"{name.upper()}: {e}") from None
        return RateLimits(**rates)

    def discord_guilds(self) -> tuple[int, ...]:
        parts = [p.strip() for p in self.discord_guild_ids.split(",") if p.strip()]
        bad = [p for p in parts if not p.isdigit()]
        if bad:
            raise ConfigError(f"DISCORD_GUILD_IDS: “{bad[0]}” is not a guild id (digits only)")
        return tuple(int(p) for p in parts)

    def discord_operator_role_id(self) -> int | None:
        """The operator role's id. A name is refused: anyone can create a role of that name in a server of their own."""
        role = self.discord_operator_role.strip()
        if not role:
            return None
        if not role.isdigit() or not 15 <= len(role) <= 20:
            raise ConfigError(
                f"DISCORD_OPERATOR_ROLE: “{role[:40]}” is not a role id; set the role's id, never its name (anyone "
                "can create a role with that name in their own server). To copy it: turn on Developer Mode (User "
                "Settings → Advanced), then Server Settings → Roles → right-click the role → Copy Role ID"
            )
        guilds = self.discord_guilds()
        if not guilds:
            raise ConfigError(
                "DISCORD_OPERATOR_ROLE needs DISCORD_GUILD_IDS: the role counts only in the servers listed there "
                "(right-click the server icon → Copy Server ID, with Developer Mode on)"
            )
        if int(role) in guilds:
            raise ConfigError(
                "DISCORD_OPERATOR_ROLE: that id is a server's own, i.e. its @everyone role, which would make every "
                "member an operator; copy the id of the operators' role instead"
            )
        return int(role)

    def require(self, *names: str) -> None:
        for name in names:
            if not getattr(self, name):
                raise ConfigError(f"{name.upper()} is not set; this mode needs it")


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _token_amounts(name: str, value: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        symbol, _, amount = part.partition("=")
        if not symbol.strip() or not amount.strip():
            raise ConfigError(f"{name}: “{part}” should look like CRO=100")
        out[symbol.strip().upper()] = amount.strip()
    return out


def _refs(name: str, value: str) -> frozenset[str]:
    refs = set()
    for part in filter(None, (p.strip() for p in value.split(","))):
        platform, _, uid = part.partition(":")
        if platform not in ("telegram", "discord", "console") or not uid:
            raise ConfigError(f"{name}: “{part}” should look like telegram:123 or discord:456")
        refs.add(f"{platform}:{uid}")
    return frozenset(refs)


def load_settings(**overrides) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


__all__ = ["Settings", "ConfigError", "load_settings", "Field"]
