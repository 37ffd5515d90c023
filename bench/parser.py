"""Parser throughput: commands parsed per second, beside the floor of merely splitting the same text."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.commands import Actor  # noqa: E402
from core.errors import UsageError  # noqa: E402
from core.parsing import parse  # noqa: E402

LINES = [
    "/pay 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed 25 USDC",
    "/pay 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed 0.5",
    "/pay @alice 12.75 usdt",
    "/history 20",
    "/status pay-abcdefgh",
    "/help pay",
    "/pay 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed 1e18",  # rejected
    "/wallet",
]


def run(fn, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(LINES[i % len(LINES)])
    return n / (time.perf_counter() - start)


def main() -> None:
    actor = Actor("telegram", "1")

    def do_parse(text: str) -> None:
        try:
            parse(text, actor=actor, key="k")
        except UsageError:
            pass

    def baseline(text: str) -> None:
        words = text.split()
        words[0].lstrip("/").lower()

    n = 50_000
    run(do_parse, 2_000)
    best = max(run(do_parse, n) for _ in range(3))
    floor = max(run(baseline, n) for _ in range(3))
    print(json.dumps({"parsed_per_s": round(best), "baseline_split_per_s": round(floor), "ratio": round(floor / best, 1)}))


if __name__ == "__main__":
    main()
