"""`snowrail bulk check FILE [--json]` as a process: exit codes 0/1/2 and the exact JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
A = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"


def check(tmp_path: Path, name: str, data: bytes, *flags: str) -> tuple[int, str]:
    f = tmp_path / name
    f.write_bytes(data)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([SNOWRAIL, "bulk", "check", str(f), *flags], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def test_exit_codes_and_json(tmp_path: Path) -> None:
    code, out = check(tmp_path, "ok.csv", f"{A},1.5\n{A},0.000000000000000001,CRO,again\n".encode(), "--json")
    assert code == 0
    assert json.loads(out) == {
        "rows": 2, "valid": 2, "errors": [],
        "duplicates": [{"recipient": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "token": "CRO", "lines": [1, 2]}],
        "totals": {"CRO": "1.500000000000000001"},
    }
    code, out = check(tmp_path, "bad.json", b'[\n{"to": "%s", "amount": 1e3}\n]' % A.encode(), "--json")
    assert code == 1 and json.loads(out)["errors"][0]["line"] == 2 and json.loads(out)["valid"] == 0
    code, out = check(tmp_path, "empty.csv", b"", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["line"] == 0
    code, out = check(tmp_path, "ok.csv", f"{A},1\n".encode())
    assert code == 0 and "ready to execute" in out
