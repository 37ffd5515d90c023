"""Types, checked in CI: mypy over what [tool.mypy] lists (core and the fakes strictly), and no silent ignores.

mypy runs here, as a test, rather than as a step of its own in scripts/test: the README's test command stays one
command, `.ci/run` runs it for free, and a developer running pytest sees a type error as a failing test."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `# type: ignore[code]  # why`: an ignore names what it silences and, after a second `#`, why it is right here.
IGNORE = re.compile(r"#\s*type:\s*ignore\b(?P<codes>\[[^\]]*\])?(?P<rest>.*)$")
REASON = re.compile(r"\s*#\s*\S.{3,}")


def test_mypy_passes():
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_type_ignore_names_its_error_and_says_why():
    silent = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for top in ("core", "adapters", "bot", "workers", "tests", "bench", "migrations")
        for p in sorted((ROOT / top).rglob("*.py"))
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if (m := IGNORE.search(line)) and not (m["codes"] and REASON.fullmatch(m["rest"]))
    ]
    assert silent == [], "\n".join(["an ignore without its error code or a reason on the same line:", *silent])
