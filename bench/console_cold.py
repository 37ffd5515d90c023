"""The console's first reply from a cold start (new process, empty directory, empty HOME), beside the cost
of merely starting Python and importing the libraries it needs, measured in the same run."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("snowrail")


def first_reply_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp, "home")
        home.mkdir()
        t = time.perf_counter()
        p = subprocess.Popen([str(BIN), "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=tmp, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        assert p.stdin and p.stdout
        p.stdin.write("/help\n")
        p.stdin.flush()
        for line in p.stdout:
            if line.startswith("Commands"):
                break
        took = time.perf_counter() - t
        p.stdin.close()
        p.wait(timeout=30)
        return took


def python_imports_seconds() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import web3, eth_tester, sqlalchemy, sqlmodel, alembic, aiosqlite"], check=True)
    return time.perf_counter() - t


def main(n: int = 5) -> None:
    first = [first_reply_seconds() for _ in range(n)]
    base = [python_imports_seconds() for _ in range(n)]
    print(json.dumps({
        "console_first_reply_s": {"median": round(statistics.median(first), 2), "max": round(max(first), 2)},
        "baseline_python_plus_imports_s": {"median": round(statistics.median(base), 2)},
        "goal_s": 3.0,
    }))


if __name__ == "__main__":
    main()
