"""`snowrail bulk ...`: check a payout file from the shell, with the exit codes and JSON our acceptance tests read."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.settings import Settings
from bot.subcommands import parse_action
from core.bulk.file import BulkFile, RowError, check_file
from core.money import TokenRegistry
from core.views import counted

USAGE = "usage: snowrail bulk check FILE [--json]"


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="snowrail bulk", description="Bulk payout files.")
    sub = parser.add_subparsers(dest="action", metavar="action")
    c = sub.add_parser("check", help="validate a CSV or JSON payout file without executing it")
    c.add_argument("file")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parse_action(parser, argv, "check", USAGE)
    if isinstance(args, int):
        return args
    return check(Path(args.file), settings, as_json=args.json)


def check(path: Path, settings: Settings, *, as_json: bool) -> int:
    tokens = registry_for(settings)
    try:
        data = path.read_bytes()
    except OSError as e:
        result = BulkFile("unknown", 0, (), (RowError(0, f"cannot read {path}: {e.strerror or e}"),), (), {}, "", 0)
    else:
        result = check_file(data, tokens, filename=path.name)
    if as_json:
        print(json.dumps(result.summary(tokens), ensure_ascii=False))
    else:
        print(describe(path.name, result, tokens))
    return result.exit_code


def registry_for(settings: Settings) -> TokenRegistry:
    """The tokens rows may name: those of the configured chain, or the embedded dev chain's (the standard four)."""
    if not settings.rpc_url:
        return TokenRegistry.standard()
    from adapters.chain import token_registry  # web3 is imported only when a real chain is configured

    return token_registry(settings.chain_id or 0, settings.tokens or None)


def describe(name: str, result: BulkFile, tokens: TokenRegistry) -> str:
    if not result.readable:
        return f"{name}: cannot be used: {result.errors[0].error}"
    lines = [
        f"{name}: {result.format.upper()}, {counted(result.rows, 'row')}, {len(result.valid):,} valid, "
        f"{counted(len(result.errors), 'error')}, {counted(len(result.duplicates), 'duplicate recipient')}"
    ]
    for sym, amount in result.totals_text(tokens).items():
        lines.append(f"  total {amount} {sym}")
    for e in result.errors:
        lines.append(f"  line {e.line}: {e.error}")
    for d in result.duplicates:
        lines.append(f"  duplicate: {d.recipient} {d.token} on lines {', '.join(map(str, d.lines))}")
    if result.executable:
        tail = "ready to execute" + (" (duplicates need an explicit confirmation)" if result.duplicates else "")
    else:
        tail = "fix the errors and check again"
    lines.append(tail)
    return "\n".join(lines)
