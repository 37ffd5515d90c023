"""The forking worker's metrics directory kept small: the files of exited processes folded into one archive per kind.

prometheus-client's multiprocess mode gives each process its own files (counter_<pid>.db, histogram_<pid>.db,
gauge_<mode>_<pid>.db), and RQ's Worker forks a new process per job: without this, the directory gains files with
every job and each /metrics scrape reads them all. After each job the worker's parent folds the files of every
process that has exited into <kind>_archive.db, which the library's collector reads like any other file.

Why fold raw entries rather than re-encode MultiProcessCollector.merge's output: each entry's key is the library's
own mmap key (name, labels, help), identical across processes, and its values are stored unaccumulated (a bucket
holds its own count), so adding entries key by key is exactly what the collector would add at scrape time; the
keys are copied verbatim. Gauges follow their multiprocess mode: sum/min/max/mostrecent are kept (combined as the
collector combines them), while `all` and live* gauges describe a process that no longer exists and are dropped
(as the library's mark_process_dead does for live* ones).
Folding and scraping take one lock (both run in the worker's parent): a scrape never sees a process twice or not
at all, so counters never appear to go backwards. The same lock lets the parent, the archive's only writer, keep it
open and update it in place (~0.5 ms a job; rewriting it whole cost ~3). Directories are emptied at the worker's
start, so nothing has to survive a crash halfway through a fold.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict

ARCHIVE = "archive"
LOCK = threading.Lock()  # held while the directory changes and while it is read for /metrics

_FILE = re.compile(r"^(?P<kind>[a-z]+(?:_[a-z]+)?)_(?P<owner>\d+|archive)\.db$")
_DIR = re.compile(r"^metrics-(?P<pid>\d+)$")

Entries = dict[str, tuple[float, float]]  # mmap key -> (value, timestamp)


def alive(pid: int) -> bool:
    """Whether a process with this id exists (a reaped work horse does not; an unreaped zombie still does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process reuses the id
    return True


def _combine(kind: str, into: Entries, more: Iterable[tuple[str, float, float]]) -> None:
    for key, value, stamp in more:
        if key not in into:
            into[key] = (value, stamp)
            continue
        old, old_stamp = into[key]
        if kind == "gauge_min":
            into[key] = (min(old, value), old_stamp)
        elif kind == "gauge_max":
            into[key] = (max(old, value), old_stamp)
        elif kind == "gauge_mostrecent":
            into[key] = (value, stamp) if stamp > old_stamp else (old, old_stamp)
        else:  # counter, histogram (per-bucket counts and sums), summary, gauge_sum
            into[key] = (old + value, max(old_stamp, stamp))


def _read(path: Path) -> list[tuple[str, float, float]]:
    if path.stat().st_size < 8:  # a process that died before the library sized its file: nothing recorded
        return []
    return [(k, v, t) for k, v, t, _ in MmapedDict.read_all_values_from_file(str(path))]


class _Archive:
    """One kind's archive file, open for writing, and what it holds (its only writer is this process)."""

    def __init__(self, path: Path) -> None:
        self.held: Entries = {k: (v, t) for k, v, t in _read(path)} if path.exists() else {}
        self.mapped = MmapedDict(str(path))

    def add(self, kind: str, more: list[tuple[str, float, float]]) -> None:
        changed: Entries = {}
        _combine(kind, changed, ((k, *self.held[k]) for k, _, _ in more if k in self.held))
        _combine(kind, changed, more)
        for key, (value, stamp) in changed.items():
            self.mapped.write_value(key, value, stamp)
        self.held.update(changed)


_archives: dict[Path, _Archive] = {}


def _kept(kind: str) -> bool:
    return not kind.startswith("gauge_") or kind in ("gauge_sum", "gauge_min", "gauge_max", "gauge_mostrecent")


def fold_finished(directory: Path, *, is_alive: Callable[[int], bool] = alive) -> int:
    """Fold the files of every process in `directory` that has exited into the archive, and delete them.
    Returns how many files were folded. The calling process's own files are never touched."""
    own = os.getpid()
    with LOCK:
        finished: dict[str, list[Path]] = {}
        for path in directory.iterdir():
            found = _FILE.match(path.name)
            if found is None or found["owner"] == ARCHIVE:
                continue
            pid = int(found["owner"])
            if pid == own or is_alive(pid):
                continue
            finished.setdefault(found["kind"], []).append(path)
        for kind, paths in finished.items():
            if not _kept(kind):
                continue
            path = directory / f"{kind}_{ARCHIVE}.db"
            archive = _archives.get(path)
            if archive is None or not path.exists():  # first fold here, or a directory made afresh
                archive = _archives[path] = _Archive(path)
            for finished_path in paths:
                archive.add(kind, _read(finished_path))
        folded = 0
        for paths in finished.values():
            for path in paths:
                path.unlink(missing_ok=True)
                folded += 1
        return folded


def remove_stale(parent: Path, *, is_alive: Callable[[int], bool] = alive) -> list[Path]:
    """Delete the metrics-<pid> directories of worker processes that have exited (one per start otherwise piles up
    in DATA_DIR). A directory of a running process, on this machine, is left alone."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for path in parent.iterdir():
        found = _DIR.match(path.name)
        if found is not None and path.is_dir() and int(found["pid"]) != os.getpid() and not is_alive(int(found["pid"])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
