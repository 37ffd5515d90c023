"""The plain-language corpus (tests/data/understand_corpus.jsonl): >= 95% understood and no wrong parse."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from core.money import STANDARD_DECIMALS, Token, TokenRegistry
from core.understand import understand

CORPUS = Path(__file__).parent.parent / "data" / "understand_corpus.jsonl"
FIELDS = ("action", "recipient", "amount", "token", "at", "every")
MONEY = ("recipient", "amount", "token")


def load() -> tuple[dict, list[dict]]:
    lines = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines() if x.strip()]
    return lines[0], lines[1:]


def score() -> dict:
    head, cases = load()
    tokens = TokenRegistry([Token(s, STANDARD_DECIMALS.get(s, 18), native=(s == "CRO")) for s in head["tokens"]])
    now = datetime.fromisoformat(head["now"])
    right = {f: 0 for f in FIELDS}
    understood, wrong, failures = 0, [], []
    for case in cases:
        got = understand(case["text"], tokens=tokens, now=now, tz=head["tz"]).as_json()
        want = case["expect"]
        if want["action"] is None:
            ok = got["action"] is None and want["ask_names"].lower() in (got["ask"] or "").lower()
            if got["action"] == "pay":
                wrong.append((case["text"], got))
            for f in FIELDS:
                right[f] += got["action"] is None
        else:
            for f in FIELDS:
                right[f] += got[f] == want[f]
            ok = all(got[f] == want[f] for f in FIELDS) and got["command"] == want.get("command", got["command"])
            if got["action"] == "pay" and any(got[f] != want[f] for f in MONEY):
                wrong.append((case["text"], got))
        understood += ok
        if not ok:
            failures.append((case["text"], want, got))
    return {"n": len(cases), "understood": understood, "wrong": wrong, "failures": failures, "right": right}


def test_corpus_has_200_phrasings_understood_95_percent_and_no_wrong_parse() -> None:
    s = score()
    n = s["n"]
    print(f"\ncorpus: {n} phrasings, understood {s['understood']}/{n} ({100 * s['understood'] / n:.1f}%), "
          f"wrong parses {len(s['wrong'])}")
    print("accuracy by field: " + ", ".join(f"{f} {100 * c / n:.1f}%" for f, c in s["right"].items()))
    for text, want, got in s["failures"][:20]:
        print(f"  MISS {text!r}: want {want} got {got}")
    assert n >= 200
    assert not s["wrong"], s["wrong"]
    assert s["understood"] >= 0.95 * n


def test_the_command_of_every_pay_says_recipient_amount_and_token() -> None:
    head, cases = load()
    tokens = TokenRegistry([Token(s, STANDARD_DECIMALS.get(s, 18), native=(s == "CRO")) for s in head["tokens"]])
    now = datetime.fromisoformat(head["now"])
    for case in cases:
        got = understand(case["text"], tokens=tokens, now=now, tz=head["tz"])
        if got.action == "pay":
            assert got.command is not None
            assert got.command.startswith(f"/pay {got.recipient} {got.amount} {got.token}"), case["text"]
