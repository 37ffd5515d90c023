"""`snowrail audit export [--since DATE] --csv FILE`: the audit log as a CSV file for an accountant."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import ConfigError, Settings
from bot.subcommands import parse_action
from core.bulk.views import csv_bytes
from core.handlers.roles import AUDIT_COLUMNS, audit_rows

USAGE = "usage: snowrail audit export [--since DATE] --csv FILE"


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="snowrail audit", description="The audit log of every decision.")
    sub = parser.add_subparsers(dest="action", metavar="action")
    e = sub.add_parser("export", help="write the audit log as CSV (spreadsheet-safe cells, ISO dates, exact amounts)")
    e.add_argument("--since", metavar="DATE", help="only entries at or after DATE (2026-11-01, or 2026-11-01T09:30; UTC)")
    e.add_argument("--csv", metavar="FILE", required=True, help="the file to write")
    args = parse_action(parser, argv, "export", USAGE)
    if isinstance(args, int):
        return args
    try:
        since = parse_since(args.since)
    except ValueError as error:
        print(f"snowrail audit: {error}", file=sys.stderr)
        return 2
    if not settings.database_url:
        raise ConfigError("DATABASE_URL is not set: the audit log to export lives in that database")
    path = Path(args.csv)
    n = asyncio.run(export(settings.database_url, since, path))
    print(f"wrote {n} audit entr{'y' if n == 1 else 'ies'} to {path}")
    return 0


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: “{text[:40]}” is not a date; use 2026-11-01 or 2026-11-01T09:30 (UTC)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def export(database_url: str, since: datetime | None, path: Path) -> int:
    from adapters.db import create_engine_for
    from adapters.db.uow import make_uow_factory

    engine = create_engine_for(database_url)
    try:
        async with make_uow_factory(engine)() as uow:
            entries = await uow.audit.since(since)
    finally:
        await engine.dispose()
    path.write_bytes(csv_bytes(AUDIT_COLUMNS, audit_rows(entries)))
    return len(entries)
