"""Plain-language understanding: p95 per sentence after warm-up, beside the slash-command parser on the command
each sentence maps to, measured in the same run (goal: p95 <= 20 ms)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.commands import Actor  # noqa: E402
from core.errors import UsageError  # noqa: E402
from core.money import STANDARD_DECIMALS, Token, TokenRegistry  # noqa: E402
from core.parsing import parse  # noqa: E402
from core.understand import understand  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "understand_corpus.jsonl"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5, help="passes over the corpus after one warm-up pass")
    args = ap.parse_args()
    lines = [json.loads(x) for x in CORPUS.read_text(encoding="utf-8").splitlines() if x.strip()]
    head, cases = lines[0], lines[1:]
    tokens = TokenRegistry([Token(s, STANDARD_DECIMALS.get(s, 18), native=(s == "CRO")) for s in head["tokens"]])
    now, tz = datetime.fromisoformat(head["now"]), head["tz"]
    actor = Actor("telegram", "1")
    texts = [c["text"] for c in cases]
    commands = [understand(t, tokens=tokens, now=now, tz=tz).command for t in texts]  # also the warm-up pass
    commands_known = [c for c in commands if c]

    def slash(text: str) -> None:
        try:
            parse(text, actor=actor, key="k", tokens=tokens)
        except UsageError:
            pass  # scheduled forms are not slash commands yet: refusing them is the parser's work too

    sentence_ms: list[float] = []
    slash_ms: list[float] = []
    for _ in range(args.rounds):
        for t in texts:
            t0 = time.perf_counter()
            understand(t, tokens=tokens, now=now, tz=tz)
            sentence_ms.append((time.perf_counter() - t0) * 1000)
        for c in commands_known:
            t0 = time.perf_counter()
            slash(c)
            slash_ms.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "sentences": len(texts), "rounds": args.rounds,
        "understand_p50_ms": round(p(sentence_ms, 0.5), 3), "understand_p95_ms": round(p(sentence_ms, 0.95), 3),
        "understand_max_ms": round(max(sentence_ms), 3),
        "baseline_slash_parse_p50_ms": round(p(slash_ms, 0.5), 3),
        "baseline_slash_parse_p95_ms": round(p(slash_ms, 0.95), 3),
        "ratio_p95": round(p(sentence_ms, 0.95) / p(slash_ms, 0.95), 1), "goal_p95_ms": 20,
    }))


if __name__ == "__main__":
    main()
