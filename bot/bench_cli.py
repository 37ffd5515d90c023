"""`snowrail bench ...`: `bulk --rows N [--block-time S --gas-limit G] [--json]` (settling a payout file on a fresh
anvil, optionally with interval mining at the chain's limit) and `bulk-validate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]  # bench/ lives beside bot/ and is not an installed package

USAGE = ("usage: snowrail bench bulk --rows N [--workers W] [--token T] [--block-time SECONDS] [--gas-limit GAS] [--json]"
         " | snowrail bench bulk-validate [--rows N]")


def main(argv: list[str], settings: Settings) -> int:
    if not argv or argv[0] not in ("bulk", "bulk-validate"):
        print(USAGE, file=sys.stderr)
        return 2
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if argv[0] == "bulk":
        from bench.bulk import main as bulk_main

        return bulk_main(argv[1:])
    from bench.bulk_validate import measure

    rows = int(argv[argv.index("--rows") + 1]) if "--rows" in argv else 10_000
    print(json.dumps(measure(rows)))
    return 0
