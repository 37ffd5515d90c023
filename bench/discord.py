"""Discord front end speed: interactions/s and p95 INTERACTION_CREATE -> first response, beside a bare client and the engine alone."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.discord.fake_discord import FakeDiscord  # noqa: E402

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))
OPERATOR = (700000000000000001, "olga")
USERS = [(710000000000000000 + i, f"user{i}") for i in range(50)]
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def mix(fake: FakeDiscord, i: int, pay_id: str) -> dict:
    """Non-chain commands, as many users would send them: help, history, status, link (a DB write)."""
    who = USERS[i % len(USERS)]
    kind = i % 4
    if kind == 0:
        return fake.slash("help", {}, who)
    if kind == 1:
        return fake.slash("history", {"n": 10}, who)
    if kind == 2:
        return fake.slash("status", {"id": pay_id}, OPERATOR)
    return fake.slash("link", {"address": ADDRESS}, who)


async def first_response(fake: FakeDiscord, iid: int, timeout: float = 30.0) -> float:
    event = await fake.wait_for(lambda e: e.interaction_id == iid and e.kind == "callback", timeout)
    return event.at - fake.sent_at[iid]


async def measure(fake: FakeDiscord, pay_id: str, *, sequential: int, burst: int) -> dict:
    for i in range(20):  # warm-up
        await first_response(fake, await fake.send(mix(fake, i, pay_id)))
    latencies = []
    for i in range(sequential):
        latencies.append(await first_response(fake, await fake.send(mix(fake, i, pay_id))))
    latencies.sort()
    start = time.perf_counter()
    ids = [await fake.send(mix(fake, i, pay_id)) for i in range(burst)]
    for iid in ids:
        await first_response(fake, iid, 120)
    elapsed = time.perf_counter() - start
    return {
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "per_s": round(burst / elapsed, 1),
    }


async def bot_run(sequential: int, burst: int) -> tuple[dict, dict]:
    fake = await FakeDiscord().start()
    work = Path(tempfile.mkdtemp(prefix="snowrail-bench-dc-"))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "LANG": "C.UTF-8", **fake.env(),
           "OPERATORS": f"discord:{OPERATOR[0]}"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        SNOWRAIL, "run", "discord", cwd=work, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        started = time.perf_counter()
        await fake.wait_for(lambda e: e.kind == "sync", 120)
        ready_s = time.perf_counter() - started
        pay = await fake.send(fake.slash("pay", {"recipient": ADDRESS, "amount": "0.01"}, OPERATOR))
        paid = await fake.answer(pay, 60)
        pay_id = paid.content.split("`")[1] if "`" in paid.content else "pay-unknown"
        pays = []
        for _ in range(20):  # a chain command, for comparison: sign, send, wait for the receipt
            iid = await fake.send(fake.slash("pay", {"recipient": ADDRESS, "amount": "0.01"}, OPERATOR))
            pays.append(await first_response(fake, iid, 60))
        pays.sort()
        result = await measure(fake, pay_id, sequential=sequential, burst=burst)
        return result, {"ready_s": round(ready_s, 1), "pay_p50_ms": round(pays[10] * 1000, 1), "pay_p95_ms": round(pays[18] * 1000, 1)}
    finally:
        proc.terminate()
        await proc.wait()
        await fake.stop()


async def echo_client(gateway: str, api: str, token: str) -> None:
    """The floor: a bare client that answers every INTERACTION_CREATE with a fixed reply, and nothing else."""
    async with aiohttp.ClientSession() as session, session.ws_connect(gateway) as ws:
        await ws.receive_json()
        await ws.send_json({"op": 2, "d": {"token": token, "intents": 0, "properties": {}}})
        tasks = set()

        async def reply(d: dict) -> None:
            url = f"{api}/interactions/{d['id']}/{d['token']}/callback?with_response=1"
            async with session.post(url, json={"type": 4, "data": {"content": "ok"}}) as r:
                await r.read()

        async for msg in ws:
            frame = json.loads(msg.data)
            if frame.get("t") == "INTERACTION_CREATE":
                task = asyncio.create_task(reply(frame["d"]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)


async def baseline_run(sequential: int, burst: int) -> dict:
    fake = await FakeDiscord().start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--echo", fake.gateway_url, fake.api_url, fake.token
    )
    try:
        await asyncio.wait_for(fake.identified.wait(), 30)
        return await measure(fake, "pay-abcdefgh", sequential=sequential, burst=burst)
    finally:
        proc.terminate()
        await proc.wait()
        await fake.stop()


async def engine_run(n: int) -> dict:
    """The same mix straight into Engine.handle_text on the embedded default: what the core itself costs."""
    from bot.bootstrap import build
    from bot.settings import Settings
    from core.commands import Actor

    texts = ["/help", "/history 10", "/status pay-abcdefgh", f"/link {ADDRESS}"]
    app = await build(Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp()), database_url=None, redis_url=None, rpc_url=None,
                               rate_limit_default="off"))  # each user speaks often here; bench/rate_limit.py measures the limit
    try:
        latencies = []
        for i in range(n + 20):
            uid, name = USERS[i % len(USERS)]
            started = time.perf_counter()
            await app.engine.handle_text(texts[i % 4], actor=Actor("discord", str(uid), name, name), key=f"bench-{i}")
            if i >= 20:
                latencies.append(time.perf_counter() - started)
    finally:
        await app.close()
    latencies.sort()
    return {"per_s": round(len(latencies) / sum(latencies), 1), "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2)}


async def main(sequential: int, burst: int) -> dict:
    base = await baseline_run(sequential, burst)
    core = await engine_run(sequential)
    bot, extra = await bot_run(sequential, burst)
    return {
        "interactions_per_s": bot["per_s"], "baseline_interactions_per_s": base["per_s"],
        "engine_only_commands_per_s": core["per_s"],
        "p50_ms": bot["p50_ms"], "p95_ms": bot["p95_ms"],
        "baseline_p50_ms": base["p50_ms"], "baseline_p95_ms": base["p95_ms"], "engine_only_p95_ms": core["p95_ms"],
        "sequential": sequential, "burst": burst, **extra,
    }  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=400, help="interactions sent one at a time (latency)")
    parser.add_argument("--burst", type=int, default=400, help="interactions sent at once (throughput)")
    parser.add_argument("--echo", nargs=3, metavar=("GATEWAY", "API", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        asyncio.run(echo_client(*args.echo))
    else:
        print(json.dumps(asyncio.run(main(args.sequential, args.burst))))
