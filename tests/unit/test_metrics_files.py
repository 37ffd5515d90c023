"""adapters.metrics.files: folding exited processes' metrics files changes no figure /metrics shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from adapters.metrics.files import fold_finished, remove_stale

REPO = Path(__file__).resolve().parents[2]

# One process that forks `children` processes in turn, each reporting as a job does, as RQ's work horses are.
JOBS = """
import os, sys
from datetime import timedelta
from adapters.metrics.prometheus import PrometheusMetrics
metrics = PrometheusMetrics()
start, children = int(sys.argv[1]), int(sys.argv[2])
for i in range(start, start + children):
    pid = os.fork()
    if pid == 0:
        metrics.command("pay", "ok" if i % 3 else "invalid")
        metrics.payment("confirmed", timedelta(seconds=i))
        metrics.rpc("eth_call", 0.002 * i, "ok")
        metrics.nonce_gap(i)
        os._exit(0)
    os.waitpid(pid, 0)
"""


def run_jobs(directory: Path, start: int, children: int) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", JOBS, str(start), str(children)], env=env, check=True, cwd=REPO)


def exposition(directory: Path) -> list[str]:
    """The /metrics lines, sorted: the collector lists series in the order it happened to read the files."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return sorted(generate_latest(registry).decode().splitlines())


def test_folding_keeps_every_figure_and_leaves_one_file_per_kind(tmp_path):
    run_jobs(tmp_path, 0, 6)
    before = exposition(tmp_path)
    assert len(list(tmp_path.iterdir())) > 6 * 2
    folded = fold_finished(tmp_path)
    assert folded > 6 * 2
    assert exposition(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_archive.db", "gauge_mostrecent_archive.db", "histogram_archive.db"]

    run_jobs(tmp_path, 6, 4)  # more jobs after a fold: added to the archive, not replacing it
    before = exposition(tmp_path)
    fold_finished(tmp_path)
    after = exposition(tmp_path)
    assert after == before
    assert 'snowrail_commands_total{command="pay",outcome="ok"} 6.0' in after  # i % 3 != 0 for i in 0..9
    assert 'snowrail_payment_latency_seconds_count{status="confirmed"} 10.0' in after
    assert "snowrail_nonce_gap 9.0" in after  # the most recent job's, not a sum
    assert len(list(tmp_path.iterdir())) == 3


def test_the_files_of_live_processes_stay(tmp_path):
    run_jobs(tmp_path, 0, 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert fold_finished(tmp_path, is_alive=lambda pid: True) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == names


def exited_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)


def test_a_job_killed_before_its_file_was_sized_is_folded_too(tmp_path):
    run_jobs(tmp_path, 0, 1)
    before = exposition(tmp_path)
    (tmp_path / f"counter_{exited_pid()}.db").touch()  # created, never written: killed at that moment
    assert fold_finished(tmp_path) >= 2
    assert exposition(tmp_path) == before and not any(p.stat().st_size == 0 for p in tmp_path.iterdir())


def test_stale_worker_directories_go_and_running_ones_stay(tmp_path):
    dead, running = tmp_path / f"metrics-{exited_pid()}", tmp_path / f"metrics-{os.getppid()}"
    for d in (dead, running, tmp_path / "metrics-own"):
        d.mkdir()
    assert remove_stale(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, "metrics-own"])
