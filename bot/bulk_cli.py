"""`snowrail bulk ...`: check a payout file from the shell (the exit codes and JSON our acceptance tests read), or
run one too large for chat through the engine's own upload and execute commands, as an operator."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

from bot.settings import Settings
from bot.subcommands import parse_action
from core.bulk.file import MAX_SHELL_BYTES, MAX_SHELL_ROWS, BulkFile, RowError, check_file
from core.money import TokenRegistry
from core.views import counted

USAGE = "usage: snowrail bulk check FILE [--json] | snowrail bulk run FILE --as PLATFORM:ID [--yes] [--no-wait]"
_PERSON = re.compile(r"^([a-z]{2,16}):([A-Za-z0-9_.-]{1,64})$")


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="snowrail bulk", description="Bulk payout files.")
    sub = parser.add_subparsers(dest="action", metavar="action")
    c = sub.add_parser("check", help="validate a payout file (CSV, Safe Airdrop CSV, JSON, .xlsx, .txt list) "
                                     "without executing it")
    c.add_argument("file")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.add_argument("--run", action="store_true", help="check as `snowrail bulk run` reads it: no BULK_MAX_ROWS limit")
    r = sub.add_parser("run", help="upload and execute a payout file of any size as an operator, through the "
                                   "same workers and approvals as chat")
    r.add_argument("file")
    r.add_argument("--as", dest="actor", required=True, metavar="PLATFORM:ID",
                   help="the operator it runs as, e.g. telegram:123 (audit, limits and approvals apply to them)")
    r.add_argument("--yes", action="store_true", help="confirm duplicates or a repeated file (chat asks twice)")
    r.add_argument("--no-wait", action="store_true", help="exit once queued (workers settle it) instead of "
                                                          "printing progress until the report")
    action = argv[0] if argv else None
    args = parse_action(parser, argv, action if action in ("check", "run") else "check", USAGE)
    if isinstance(args, int):
        return args
    if args.action == "run":
        from bot.bulk_run import run

        m = _PERSON.match(args.actor)
        if not m:
            print(f"snowrail bulk run: --as {args.actor[:40]}: expected PLATFORM:ID, e.g. telegram:123", file=sys.stderr)
            return 2
        return asyncio.run(run(Path(args.file), settings, m.group(1), m.group(2), yes=args.yes, wait=not args.no_wait))
    return check(Path(args.file), settings, as_json=args.json, shell=args.run)


def check(path: Path, settings: Settings, *, as_json: bool, shell: bool = False) -> int:
    tokens = registry_for(settings)
    try:
        data = path.read_bytes()
    except OSError as e:
        result = BulkFile("unknown", 0, (), (RowError(0, f"cannot read {path}: {e.strerror or e}"),), (), {}, "", 0)
    else:
        limits = {"max_rows": MAX_SHELL_ROWS, "max_bytes": MAX_SHELL_BYTES} if shell else {"max_rows": settings.bulk_max_rows}
        result = check_file(data, tokens, filename=path.name, **limits)
    if as_json:
        print(json.dumps(result.summary(tokens), ensure_ascii=False))
    else:
        print(describe(path.name, result, tokens))
    return result.exit_code


def registry_for(settings: Settings) -> TokenRegistry:
    """The tokens rows may name: those of the configured chain (CHAIN_ID's known tokens, e.g. Cronos's, plus
    TOKENS: no node is asked), or the embedded dev chain's (the standard four, with no addresses)."""
    if not settings.rpc_url and not settings.chain_id:
        return TokenRegistry.standard()
    from adapters.chain.tokens import token_registry

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
    if result.people:
        shown = ", ".join(map(str, result.people[:20])) + (" …" if len(result.people) > 20 else "")
        lines.append(f"  lines naming a person (@handle or mention): {shown}; they resolve to linked wallets only when "
                     "the file is sent in chat or run with `snowrail bulk run` (this check has no database)")
    for d in result.duplicates:
        lines.append(f"  duplicate: {d.recipient} {d.token} on lines {', '.join(map(str, d.lines))}")
    if result.executable:
        tail = "ready to execute" + (" (duplicates need an explicit confirmation)" if result.duplicates else "")
    else:
        tail = "fix the errors and check again"
    lines.append(tail)
    return "\n".join(lines)
