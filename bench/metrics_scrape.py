"""What Prometheus costs the bulk benchmark: bench/bulk.py's run with the worker's metrics on and /metrics scraped
every second, against the same run with no metrics (the baseline), alternating, in one process.

`python -m bench.metrics_scrape [--rows N] [--rounds R] [--forking] [--json]`. One RQ worker (HEALTH_PORT is one
port per process); --forking runs it as `snowrail run worker` does (a process per job, metrics files folded after
each). Goal: the overhead on the batch's time is at most 1%.

Two figures: the batch's wall time (end to end; on a loaded 2-CPU machine its noise is several times 1%), and the
component itself: the CPU seconds the worker processes used over the batch, read from /proc, which is what the
metrics and the scrapes add to. Both as a fraction of the baseline's, from the medians, and per round (paired).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


async def scrape_every_second(port: int, took: list[float]) -> None:
    """GET /metrics each second; `took` gets each good scrape's round trip in seconds."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        while True:
            try:
                t = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    body = await resp.read()
                    if resp.status == 200 and b"snowrail_" in body:
                        took.append(time.perf_counter() - t)
            except aiohttp.ClientError:
                pass  # the worker is not up yet (each run starts its own)
            await asyncio.sleep(1.0)


def read_cpu_ms(directory: Path, times: int = 50) -> float:
    """CPU milliseconds one /metrics body of a forking worker's directory costs (what the worker spends per scrape
    reading its files), measured here on a copy of the files."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    t = time.process_time()
    for _ in range(times):
        generate_latest(registry)
    return (time.process_time() - t) / times * 1000


def unfolded_copy(directory: Path, into: Path, jobs: int) -> Path:
    """`directory` as it would be after `jobs` more jobs with nothing folded: each job's own files (copies of the
    archive's, under made-up process ids)."""
    into.mkdir()
    for path in directory.iterdir():
        shutil.copy(path, into / path.name)
        kind = path.name.rsplit("_", 1)[0]
        if path.name.endswith("_archive.db"):
            for pid in range(10**6, 10**6 + jobs):
                shutil.copy(path, into / f"{kind}_{pid}.db")
    return into


async def one(rows: int, metrics: bool, port: int, forking: bool) -> dict:
    """The batch's seconds, the worker's CPU seconds over it, the scrapes' round trips, and (forking) what reading
    the worker's metrics directory costs, as it is (folded) and as 1,000 unfolded jobs would leave it."""
    from bench.bulk import run

    took: list[float] = []
    scraper = None
    data_dir = tempfile.TemporaryDirectory(prefix="bench-metrics-")  # the worker's DATA_DIR: its metrics-<pid>/
    os.environ["DATA_DIR"] = data_dir.name
    if metrics:
        os.environ.update(HEALTH_PORT=str(port), HEALTH_LISTEN="127.0.0.1")
        scraper = asyncio.create_task(scrape_every_second(port, took))
    else:
        os.environ.pop("HEALTH_PORT", None)
    try:
        # 150 /pay payments first: the worker is up and warm before the batch's clock starts, in both runs. A
        # forking worker builds its app in every job (~1 s each): 1, or their notifications' jobs queue up ahead.
        result = await run(rows, workers=1, baseline_rows=1 if forking else 150, log=lambda *a: None,
                           forking=forking)
        found = {"seconds": result["seconds"], "cpu": result["worker_cpu_seconds"], "took": took,
                 "side": result["worker_side_cpu_seconds"]}
        for directory in Path(data_dir.name).glob("metrics-*"):
            found["files"] = len(list(directory.iterdir()))
            found["read_ms"] = read_cpu_ms(directory)
            found["read_ms_1000_unfolded"] = read_cpu_ms(unfolded_copy(directory, Path(data_dir.name) / "x", 1000))
    finally:
        if scraper is not None:
            scraper.cancel()
            await asyncio.gather(scraper, return_exceptions=True)
        os.environ.pop("HEALTH_PORT", None)
        os.environ.pop("DATA_DIR", None)
        data_dir.cleanup()
    return found


def _fraction(on: float, off: float) -> float:
    return round(on / off - 1, 4)


async def measure(rows: int, rounds: int, port: int, forking: bool = False) -> dict:
    runs: list[tuple[dict, dict]] = []
    for _ in range(rounds):  # alternating, so a machine that slows down over time weighs on both alike
        runs.append((await one(rows, False, port, forking), await one(rows, True, port, forking)))
    off, on = [a["seconds"] for a, _ in runs], [b["seconds"] for _, b in runs]
    cpu_off, cpu_on = [a["cpu"] for a, _ in runs], [b["cpu"] for _, b in runs]
    side_off, side_on = [a["side"] for a, _ in runs], [b["side"] for _, b in runs]
    took = sorted(t for _, b in runs for t in b["took"])
    scrapes = len(took)
    base, with_metrics = statistics.median(off), statistics.median(on)
    scrape_ms = statistics.median(took) * 1000 if took else None
    return {
        "rows": rows, "rounds": rounds, "workers": 1, "forking": forking,
        "baseline_seconds": off, "scraped_seconds": on, "scrapes": scrapes,
        "baseline_median_s": round(base, 3), "scraped_median_s": round(with_metrics, 3),
        "overhead_percent": round((with_metrics / base - 1) * 100, 2), "goal_percent": 1.0,
        # The component: the worker's CPU over the same batch, with metrics on and scraped each second vs off.
        "baseline_worker_cpu_s": cpu_off, "scraped_worker_cpu_s": cpu_on,
        "cpu_overhead_fraction": _fraction(statistics.median(cpu_on), statistics.median(cpu_off)),
        "cpu_overhead_fraction_per_round": [_fraction(a, b) for a, b in zip(cpu_on, cpu_off)],
        "wall_overhead_fraction_per_round": [_fraction(a, b) for a, b in zip(on, off)],
        # Serving /metrics alone: the CPU of the worker's threads beside RQ's loop, scraped vs not, over the
        # baseline's whole CPU (clock ticks of 10 ms: a figure near 0 is below what this can resolve).
        "baseline_side_cpu_s": side_off, "scraped_side_cpu_s": side_on,
        "serving_cpu_fraction": round((statistics.median(side_on) - statistics.median(side_off))
                                      / statistics.median(cpu_off), 4),
        # Each scrape's round trip, a bound on the worker's time per scrape; at one a second its share of the time:
        "scrape_median_ms": scrape_ms and round(scrape_ms, 2),
        "scrape_share_of_time": scrape_ms and round(scrape_ms / 1000, 4),
        # Forking: files in the worker's metrics directory after the batch, and the CPU to read it for one scrape,
        # folded (as it is) and as 1,000 more jobs would have left it unfolded.
        "metrics_files_left": max((b.get("files", 0) for _, b in runs), default=0),
        "read_cpu_ms": [round(b["read_ms"], 2) for _, b in runs if "read_ms" in b],
        "read_cpu_ms_1000_jobs_unfolded": [round(b["read_ms_1000_unfolded"], 1) for _, b in runs
                                           if "read_ms_1000_unfolded" in b],
    }


def main(argv: list[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.metrics_scrape")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--port", type=int, default=19311)
    p.add_argument("--forking", action="store_true", help="RQ's Worker, a process per job, as `snowrail run worker`")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(measure(args.rows, args.rounds, args.port, args.forking))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
