"""Executor nonce reservation: monotonic, floor-respecting, and neither reused nor skipped under concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from adapters.db import create_engine_for, make_uow_factory

CHAIN = 31337
EXECUTOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


async def test_reserve_takes_the_larger_of_stored_and_floor(uow) -> None:
    async with uow() as u:
        assert await u.nonces.reserve(CHAIN, EXECUTOR, 5) == 5
        assert await u.nonces.reserve(CHAIN, EXECUTOR.lower(), 0) == 6  # the address is case-insensitive
        assert await u.nonces.reserve(CHAIN, EXECUTOR, 3) == 7  # a stale floor does not go backwards
        assert await u.nonces.reserve(CHAIN, EXECUTOR, 20) == 20  # the node knows of more: jump to it
        assert await u.nonces.reserve(CHAIN + 1, EXECUTOR, 0) == 0  # each chain counts on its own
        await u.commit()
    async with uow() as u:
        assert await u.nonces.reserve(CHAIN, EXECUTOR, 0) == 21
        # not committed: the next unit of work gets 21 again
    async with uow() as u:
        assert await u.nonces.reserve(CHAIN, EXECUTOR, 0) == 21
        await u.commit()


async def test_concurrent_units_of_work_neither_reuse_nor_skip(uow) -> None:
    async def reserve(n: int) -> int | None:
        async with uow() as u:
            value = await u.nonces.reserve(CHAIN, EXECUTOR, 40)
            await asyncio.sleep(0.005)  # hold the lock while the others queue behind it
            if n % 3 == 0:
                return None  # e.g. signing failed: leaving without commit hands the value to the next one
            await u.commit()
            return value

    results = await asyncio.gather(*(reserve(n) for n in range(12)))
    committed = sorted(value for value in results if value is not None)
    assert committed == list(range(40, 40 + 8))


def _reserve_in_another_process(url: str, signals: str, worker: int, count: int) -> list[int]:
    async def run() -> list[int]:
        engine = create_engine_for(url)
        uow = make_uow_factory(engine)
        async with uow():  # connect before the start signal, so the processes really overlap
            pass
        Path(signals, f"ready-{worker}").touch()
        while not Path(signals, "go").exists():
            await asyncio.sleep(0.002)
        taken = []
        for _ in range(count):
            async with uow() as u:
                taken.append(await u.nonces.reserve(CHAIN, EXECUTOR, 100))
                await u.commit()
        await engine.dispose()
        return taken

    return asyncio.run(run())


async def test_separate_processes_neither_reuse_nor_skip(migrated_url: str, tmp_path: Path) -> None:
    processes, count = 3, 15
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [
            loop.run_in_executor(pool, _reserve_in_another_process, migrated_url, str(tmp_path), n, count)
            for n in range(processes)
        ]
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("ready-*"))) < processes:
            assert time.monotonic() < deadline, "worker processes did not start"
            await asyncio.sleep(0.01)
        (tmp_path / "go").touch()
        taken = await asyncio.gather(*jobs)
    every = sorted(value for values in taken for value in values)
    assert every == list(range(100, 100 + processes * count))
    for values in taken:
        assert values == sorted(values)  # each process sees its own reservations increase
