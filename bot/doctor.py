"""`snowrail doctor`: one line per check of a set-up, with what to do about each ✗; read-only; exit 1 on any ✗."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from bot.settings import ConfigError, Settings, load_settings

MARKS = {"ok": "✓", "fail": "✗", "warn": "!", "skip": "–"}
TIMEOUT = 10.0  # seconds for any one network check


@dataclass
class Report:
    """The lines so far. A ✗ means something will not work until fixed (exit 1); ! works, but look at it."""

    redact: list[str] = field(default_factory=list)  # secrets no line may show, whatever a library said
    lines: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, status: str, name: str, text: str) -> None:
        for secret in self.redact:
            if len(secret) >= 6:  # a one-letter "secret" would mask every word it appears in; no real one is that short
                text = text.replace(secret, "***")
        self.lines.append((status, name, text))
        print(f"{MARKS[status]} {name}: {text}", flush=True)

    def ok(self, name: str, text: str) -> None:
        self.add("ok", name, text)

    def fail(self, name: str, text: str) -> None:
        self.add("fail", name, text)

    def warn(self, name: str, text: str) -> None:
        self.add("warn", name, text)

    def skip(self, name: str, text: str) -> None:
        self.add("skip", name, text)

    @property
    def failed(self) -> bool:
        return any(status == "fail" for status, _, _ in self.lines)


def masked(url: str) -> str:
    """A URL with its password (if any) shown as ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "(a malformed URL)"


def settings_check(report: Report, rpc: str | None) -> Settings | None:
    """The settings parse, and every derived setting parses too (limits, roles, durations)."""
    from pydantic import ValidationError

    try:
        settings = load_settings(rpc_url=rpc)
    except ConfigError as e:
        report.fail("settings", f"{e}")
        return None
    except ValidationError as e:  # never its input values: a malformed secret would be echoed
        wrong = "; ".join(f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
                          for err in e.errors())
        report.fail("settings", f"{wrong} (fix the environment or .env)")
        return None
    from bot.logs import secrets_of

    report.redact.extend(secrets_of(settings))
    derived = (settings.rate_limits, settings.approval_ttl_delta, settings.low_balance_limits, settings.confirm_limits,
               settings.approval_thresholds, settings.operator_daily_limits, settings.discord_guilds,
               settings.discord_operator_role_id)
    for parse in derived:
        try:
            parse()
        except ConfigError as e:
            report.fail("settings", str(e))
            return None
    source = "keystore PRIVATE_KEY_FILE" if settings.private_key_file else (
        "PRIVATE_KEY" if settings.private_key else "no key (the embedded default makes its own)")
    report.ok("settings", f"parsed; executor key from {source}")
    return settings


async def database_check(report: Report, settings: Settings) -> bool:
    """Reachable, and at the newest migration (the bot migrates at start; RQ workers do not)."""
    if not settings.database_url:
        report.ok("database", f"embedded SQLite under {settings.data_dir} (made and migrated at start)")
        return False
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from adapters.db import create_engine_for
    from adapters.db.migrate import alembic_config

    where = masked(settings.database_url)
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    engine = create_engine_for(settings.database_url)
    try:
        async with engine.connect() as connection:
            current = set(await asyncio.wait_for(connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()), TIMEOUT))
    except Exception as e:  # noqa: BLE001 - any reason the database is unreachable is reported, not raised
        report.fail("database", f"{where} is not reachable ({_reason(e)}); check DATABASE_URL and that the server runs")
        return False
    finally:
        await engine.dispose()
    if current != heads:
        at = ", ".join(sorted(current)) or "empty"
        report.fail("database", f"{where} is at {at}, not the latest migration ({', '.join(sorted(heads))}); run "
                                "`snowrail migrate` (the bot also migrates when it starts)")
        return False
    report.ok("database", f"{where} is reachable and at the latest migration ({', '.join(sorted(heads))})")
    return True


async def redis_check(report: Report, settings: Settings) -> None:
    if not settings.redis_url:
        report.skip("redis", "REDIS_URL is not set: jobs run inline in the bot and rate limits are per process")
        return
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT)
        report.ok("redis", f"{masked(settings.redis_url)} answers")
    except Exception as e:  # noqa: BLE001
        report.fail("redis", f"{masked(settings.redis_url)} is not answering ({_reason(e)}); check REDIS_URL")
    finally:
        await client.aclose()


async def roles_check(report: Report, settings: Settings, database: bool) -> None:
    """Who may pay: OPERATORS, ADMINS, APPROVERS, the Discord role, and roles given in chat (in the database)."""
    try:
        operators, admins, approvers = settings.operator_refs(), settings.admin_refs(), settings.approver_refs()
    except ConfigError as e:
        report.fail("roles", str(e))
        return
    granted = 0
    if database and settings.database_url:
        from adapters.db import create_engine_for
        from adapters.db.uow import make_uow_factory

        engine = create_engine_for(settings.database_url)
        try:
            async with make_uow_factory(engine)() as uow:
                granted = len(await uow.roles.all())
        finally:
            await engine.dispose()
    role = settings.discord_operator_role.strip()
    summary = (f"{len(operators)} operator(s), {len(admins)} admin(s), {len(approvers)} approver(s) in the settings"
               + (f", Discord role {role}" if role else "") + f", {granted} role(s) given in chat")
    chat = settings.telegram_bot_token is not None or settings.discord_bot_token is not None
    if chat and not (operators or admins or role or granted):
        report.fail("roles", f"{summary}: nobody may pay; set OPERATORS or ADMINS (e.g. telegram:123456)")
        return
    report.ok("roles", summary if chat else f"{summary}; the console's user is an admin")


def _reason(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "timed out"
    text = str(getattr(e, "message", None) or e)
    message = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {message[:160]}" if message else type(e).__name__


async def run(report: Report, settings: Settings) -> None:
    from bot.doctor_checks import chain_checks, discord_check, telegram_check

    database = await database_check(report, settings)
    await redis_check(report, settings)
    await chain_checks(report, settings)
    await telegram_check(report, settings)
    await discord_check(report, settings)
    await roles_check(report, settings, database)


def main(args: argparse.Namespace) -> int:
    report = Report()
    settings = settings_check(report, getattr(args, "rpc", None))
    if settings is not None:
        asyncio.run(run(report, settings))
    bad = sum(status == "fail" for status, _, _ in report.lines)
    print(f"{bad} problem(s): fix each ✗ above, then run `snowrail doctor` again" if bad else "all checks passed")
    return 1 if bad else 0
