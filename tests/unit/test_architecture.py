"""The import contracts: core depends on no framework, adapters do not import each other."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_core_has_no_float():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "core").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "float(" in line and not line.lstrip().startswith("#")
    ]
    assert offenders == [], offenders
