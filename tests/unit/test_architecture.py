"""The architecture, checked: the import contracts, jobs named through core's Enum, no float in core, small modules."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "adapters", "bot", "workers")


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert "core never imports workers" in {c["name"] for c in contracts}
    assert f"Contracts: {len(contracts)} kept, 0 broken" in result.stdout


def test_jobs_are_named_by_the_enum_not_by_a_dotted_path():
    """A string like "workers.bulk.settle" is an import that import-linter cannot see; and a job that core asks
    for by a bare string can drift from the names the workers know."""
    dotted = [
        f"{p.relative_to(ROOT)}:{node.lineno}"
        for p in _sources("core", "adapters", "bot")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("workers.")
    ]
    assert dotted == [], f"a dotted path into workers/ outside workers/: {dotted}"
    by_string = [
        f"{p.relative_to(ROOT)}:{node.lineno}"
        for p in _sources("core")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "enqueue"
        and node.args and isinstance(node.args[0], ast.Constant)
    ]
    assert by_string == [], f"a job enqueued by a bare string instead of core.jobs.Job: {by_string}"


def test_core_has_no_float():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "core").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "float(" in line and not line.lstrip().startswith("#")
    ]
    assert offenders == [], offenders


def test_no_product_module_is_over_400_lines():
    """A module past 400 lines holds more than one concern: split it by concern, as core/bulk/ is split."""
    long = {str(p.relative_to(ROOT)): n for p in _sources(*PRODUCT) if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}, long
