"""Bulk file validation speed: check_file on 10,000 and 100,000 rows (or N), each beside Python's csv module merely
reading the same bytes in the same run. `python bench/bulk_validate.py [N ...]` prints one JSON object a line."""

from __future__ import annotations

import csv
import io
import json
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.addresses import to_checksum  # noqa: E402
from core.bulk.file import MAX_SHELL_BYTES, check_file  # noqa: E402
from core.money import TokenRegistry  # noqa: E402


def payout_file(rows: int, *, seed: int | None = None) -> bytes:
    """A realistic file: header, checksummed addresses, mixed tokens and decimals, a memo per row."""
    rnd = secrets.SystemRandom() if seed is None else __import__("random").Random(seed)
    out = io.StringIO()
    out.write("recipient,amount,token,memo\r\n")
    for i in range(rows):
        address = to_checksum("0x" + "".join(rnd.choice("0123456789abcdef") for _ in range(40)))
        token = ("CRO", "USDC", "USDT")[i % 3]
        amount = f"{rnd.randint(1, 5000)}.{rnd.randint(0, 999999):06d}"
        out.write(f"{address},{amount},{token},payout {i + 1}\r\n")
    return out.getvalue().encode()


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


GOALS = {10_000: 0.5, 100_000: 1.5}  # seconds: the seed's 10,000-row batch, and issue 12's 100,000-row file


def measure(rows: int = 10_000, repeat: int = 5) -> dict:
    data = payout_file(rows, seed=1)
    tokens = TokenRegistry.standard()

    def ours_check():  # the shell's limits (`snowrail bulk run`): chat refuses files over BULK_MAX_ROWS
        return check_file(data, tokens, max_rows=max(rows, 10_000), max_bytes=MAX_SHELL_BYTES)

    result = ours_check()
    assert result.exit_code == 0 and len(result.valid) == rows, result.errors[:3]
    ours = best_of(ours_check, repeat)
    baseline = best_of(lambda: list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))), repeat)
    return {
        "rows": rows,
        "bytes": len(data),
        "validate_seconds": round(ours, 4),
        "baseline_csv_read_seconds": round(baseline, 4),
        "ratio_to_csv_read": round(ours / baseline, 1),
        "rows_per_s": round(rows / ours),
        "goal_seconds": GOALS.get(rows),
    }


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or list(GOALS):
        print(json.dumps(measure(n, repeat=5 if n <= 10_000 else 3)), flush=True)
