"""Shared parsing for `snowrail <group> <action>` commands with one action each (bulk check, audit export)."""

from __future__ import annotations

import argparse
import sys


def parse_action(parser: argparse.ArgumentParser, argv: list[str], action: str, usage: str) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code when there is nothing to run: 0 after --help, 2 after bad
    usage (argparse has printed why) or a missing or unknown action (the usage line is printed)."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 2 if exit_.code else 0
    if args.action != action:
        print(usage, file=sys.stderr)
        return 2
    return args
