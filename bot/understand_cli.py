"""`snowrail understand "TEXT" [--now ISO] [--tz ZONE] --json`: what a sentence means, as chat would preview it."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.bulk_cli import registry_for
from bot.settings import Settings
from core.money import STANDARD_DECIMALS, Token, TokenRegistry
from core.understand import understand


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="snowrail understand",
                                description="Read a plain-language request; exit 0 when understood, 1 when it asks.")
    p.add_argument("text", help='the sentence, e.g. "send 25 usdc to @bob tomorrow at 9"')
    p.add_argument("--now", metavar="ISO", help="the moment it was said, ISO 8601 (default: now); without an "
                                                "offset it is read in --tz")
    p.add_argument("--tz", metavar="ZONE", default="UTC", help="the user's time zone, e.g. Europe/Berlin (default UTC)")
    p.add_argument("--tokens", metavar="SYM[:DEC],...", help="the tokens known (default: this chain's registry)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _tokens(spec: str | None, settings: Settings) -> TokenRegistry:
    if not spec:
        return registry_for(settings)
    out: list[Token] = []
    for part in filter(None, (x.strip() for x in spec.split(","))):
        symbol, _, dec = part.partition(":")
        symbol = symbol.upper()
        decimals = int(dec) if dec else STANDARD_DECIMALS.get(symbol, 18)
        out.append(Token(symbol, decimals, native=(symbol == "CRO")))
    if not any(t.native for t in out):
        out.insert(0, Token("CRO", 18, native=True))
    return TokenRegistry(out)


def main(argv: list[str], settings: Settings) -> int:
    args = _parser().parse_args(argv)
    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"snowrail understand: --tz {args.tz[:40]}: not a time zone (e.g. UTC, Europe/Berlin)", file=sys.stderr)
        return 2
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            print(f"snowrail understand: --now {args.now[:40]}: not ISO 8601 (e.g. 2026-11-29T15:00:00+00:00)",
                  file=sys.stderr)
            return 2
        now = now if now.tzinfo else now.replace(tzinfo=zone)
    else:
        now = datetime.now(timezone.utc)
    try:
        tokens = _tokens(args.tokens, settings)
    except ValueError as e:
        print(f"snowrail understand: --tokens: {e}", file=sys.stderr)
        return 2
    result = understand(args.text, tokens=tokens, now=now, tz=args.tz)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
    elif result.action is not None:
        print(result.command or result.action)
    else:
        print(result.ask)
    return 0 if result.action is not None else 1
