"""`snowrail understand "TEXT" [--now ISO] [--tz ZONE] --json`: one JSON object, exit 0 understood / 1 asks."""

from __future__ import annotations

import json

from bot.cli import main

NOW = ["--now", "2026-11-29T15:00:00+00:00", "--tz", "Europe/Berlin"]
KEYS = ["action", "recipient", "amount", "token", "at", "every", "command", "ask"]


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["understand", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_understood_prints_the_issue_object_and_exits_0(capsys) -> None:
    code, got = run(capsys, "send 25 usdc to @bob tomorrow at 9", *NOW, "--json")
    assert code == 0 and list(got) == KEYS
    assert got == {"action": "pay", "recipient": "@bob", "amount": "25", "token": "USDC",
                   "at": "2026-11-30T09:00:00+01:00", "every": None,
                   "command": "/pay @bob 25 USDC at 2026-11-30 09:00", "ask": None}


def test_a_question_exits_1_and_is_deterministic(capsys) -> None:
    first = run(capsys, "send 25 dollars to @bob", *NOW, "--json")
    again = run(capsys, "send 25 dollars to @bob", *NOW, "--json")
    assert first == again and first[0] == 1
    assert first[1]["action"] is None and "dollars" in first[1]["ask"]


def test_the_token_list_is_an_input(capsys) -> None:
    code, got = run(capsys, "pay @bob 5 usdt", *NOW, "--tokens", "CRO,USDC", "--json")
    assert code == 1 and "usdt" in got["ask"].lower()


def test_bad_options_are_named(capsys) -> None:
    assert main(["understand", "pay @bob 5 usdc", "--tz", "Mars/Base", "--json"]) == 2
    assert "--tz" in capsys.readouterr().err
    assert main(["understand", "pay @bob 5 usdc", "--now", "yesterday", "--json"]) == 2
    assert "--now" in capsys.readouterr().err
