"""Telegram end to end: 1,000 simulated users through a fake Bot API and the real PTB Application.

Figures: throughput and update->reply p50/p95 for non-chain commands and for /pay; notification latency
from outbox commit to the send call. Each is printed beside a baseline measured in the same run: the fake
server's own round trip for a bare sendMessage from python-telegram-bot in this process.
Run: .venv/bin/python bench/telegram.py [--users 1000] [--pays 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide python-telegram-bot.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from telegram import Bot  # noqa: E402

from bot.settings import Settings  # noqa: E402
from bot.telegram_mode import start  # noqa: E402
from tests.e2e.telegram.fake_bot_api import FakeBotApi, Person  # noqa: E402

RECIPIENT = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
CHATTY = ["/help", "/wallet", "/history", "/status pay-nothere", "/start", "/help pay", "/pay 0x12 1", "/history 5"]
BASELINE_CHAT = 99
FAILURE_WORDS = ("Sorry, something went wrong", "is not answering", "already being handled")
INTENT = re.compile(r"pay-[a-z0-9]{8}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(pct(values, 50) * 1000, 1), "p95_ms": round(pct(values, 95) * 1000, 1), "n": len(values)}


class Traffic:
    """Pushes messages as users would and times each one to the bot's reply in the same chat."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.sent: dict[tuple[int, int], float] = {}
        self.seen = 0
        self.replied: dict[tuple[int, int], float] = {}
        self.texts: dict[tuple[int, int], str] = {}

    async def say(self, person: Person, text: str) -> None:
        update = await self.api.say(person, person.dm, text)
        self.sent[(person.id, update["message"]["message_id"])] = time.perf_counter()

    def _collect(self) -> None:
        for call in self.api.calls[self.seen :]:
            ref = (call.params.get("reply_parameters") or {}).get("message_id")
            if call.method == "sendMessage" and ref is not None and call.status == 200:
                self.replied.setdefault((call.chat_id, ref), call.at)
                self.texts.setdefault((call.chat_id, ref), call.text)
        self.seen = len(self.api.calls)

    async def settle(self, keys: list[tuple[int, int]], timeout: float = 600) -> list[float]:
        deadline = time.monotonic() + timeout
        while True:
            self._collect()
            if all(k in self.replied for k in keys) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        missing = [k for k in keys if k not in self.replied]
        if missing:
            raise RuntimeError(f"{len(missing)} messages got no reply within {timeout}s")
        return [self.replied[k] - self.sent[k] for k in keys]

    def failures(self, keys: list[tuple[int, int]]) -> int:
        """Replies that are an apology or an outage notice rather than the command's answer."""
        return sum(1 for k in keys if any(w in self.texts.get(k, "") for w in FAILURE_WORDS))


async def paced(traffic: Traffic, jobs: list[tuple[Person, str]], rate: float) -> list[tuple[int, int]]:
    before = set(traffic.sent)
    t0 = time.perf_counter()
    for i, (person, text) in enumerate(jobs):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await traffic.say(person, text)
    return [k for k in traffic.sent if k not in before]


async def baseline(api: FakeBotApi, n: int = 300) -> list[float]:
    """A bare sendMessage from PTB to the fake server and back, sequentially."""
    out = []
    async with Bot(api.token, base_url=api.base_url) as bot:
        for i in range(n):
            t0 = time.perf_counter()
            await bot.send_message(BASELINE_CHAT, f"ping {i}")
            out.append(time.perf_counter() - t0)
    return out


async def notification_latency(tg, api: FakeBotApi, intent_ids: list[str], timeout: float = 120) -> list[float]:
    """Outbox commit (the intent's settle time, written in the same transaction) -> the DM reaching the API."""
    deadline = time.monotonic() + timeout
    wanted = set(intent_ids)
    found: dict[str, float] = {}
    while wanted - set(found) and time.monotonic() < deadline:
        for call in api.calls:
            if call.method == "sendMessage" and not call.params.get("reply_parameters"):
                for intent_id in INTENT.findall(call.text):
                    if intent_id in wanted:
                        found.setdefault(intent_id, call.wall)
        await asyncio.sleep(0.1)
    out = []
    async with tg.core.uow() as uow:
        for intent_id, at in found.items():
            intent = await uow.intents.get(intent_id)
            committed = intent.updated_at.replace(tzinfo=intent.updated_at.tzinfo or UTC).timestamp()
            out.append(at - committed)
    return out


async def main(users: int, pays: int, per_user: int, rate: float, pay_rate: float, rate_limit: bool) -> dict:
    logging.basicConfig(level=logging.ERROR)
    api = await FakeBotApi().start()
    people = [Person(10_000 + i, f"user{i}") for i in range(users)]
    operators = people[: max(1, min(users, pays))]
    api.started.update([*(p.id for p in people), BASELINE_CHAT])
    data = tempfile.mkdtemp(prefix="snowrail-bench-tg-")
    settings = Settings(
        _env_file=None, data_dir=Path(data), telegram_bot_token=api.token, telegram_api_base_url=api.base_url,
        telegram_file_base_url=api.file_url, operators=",".join(f"telegram:{p.id}" for p in operators),
        rate_limit_pay="off", rate_limit_default="off",  # bench/rate_limit.py measures the limit
    )
    t0 = time.perf_counter()
    tg = await start(settings, poll_timeout=10, rate_limit=rate_limit)
    started = time.perf_counter() - t0
    try:
        base = await baseline(api)
        traffic = Traffic(api)
        # Warm up: every user says hello once (first sight writes the user row).
        await asyncio.gather(*(traffic.say(p, "/start") for p in people))
        await traffic.settle(list(traffic.sent))

        # Throughput: everybody at once, `per_user` non-chain commands each.
        burst_keys_before = set(traffic.sent)
        t1 = time.perf_counter()
        for round_ in range(per_user):
            await asyncio.gather(*(traffic.say(p, CHATTY[(p.id + round_) % len(CHATTY)]) for p in people))
        burst = [k for k in traffic.sent if k not in burst_keys_before]
        burst_lat = await traffic.settle(burst)
        burst_s = time.perf_counter() - t1

        # Latency at a steady rate below capacity.
        steady = await paced(traffic, [(people[i % users], CHATTY[i % len(CHATTY)]) for i in range(users)], rate)
        steady_lat = await traffic.settle(steady)

        # /pay from operators, paced, each a settlement on the in-process chain.
        t2 = time.perf_counter()
        pay_keys = await paced(traffic, [(operators[i % len(operators)], f"/pay {RECIPIENT} 0.001") for i in range(pays)], pay_rate)
        pay_lat = await traffic.settle(pay_keys)
        pay_s = time.perf_counter() - t2
        reply_of = {(c.chat_id, (c.params.get("reply_parameters") or {}).get("message_id")): c.text
                    for c in api.calls if c.method == "sendMessage" and c.params.get("reply_parameters")}
        intents = [m.group(0) for k in pay_keys if (m := INTENT.search(reply_of.get(k, "")))]
        notify = await notification_latency(tg, api, intents)
        failed = {"burst": traffic.failures(burst), "steady": traffic.failures(steady), "pay": traffic.failures(pay_keys)}
    finally:
        await tg.stop()
        await api.stop()
    return {
        "users": users,
        "rate_limiter": "AIORateLimiter (30 msg/s overall)" if rate_limit else "off (engine capacity)",
        "bot_start_s": round(started, 2),
        "baseline_bare_sendMessage": ms(base),
        "non_chain_burst": {"updates": len(burst), "seconds": round(burst_s, 2),
                            "updates_per_s": round(len(burst) / burst_s, 1), **ms(burst_lat)},
        "non_chain_steady": {"offered_per_s": rate, **ms(steady_lat)},
        "pay": {"offered_per_s": pay_rate, "payments": len(pay_keys), "seconds": round(pay_s, 2),
                "paid_per_s": round(len(pay_keys) / pay_s, 1), **ms(pay_lat)},
        "notification_commit_to_send": {**ms(notify), "target_ms": 100},
        "failed_replies": failed,
    }


def _print(r: dict) -> None:
    b = r["baseline_bare_sendMessage"]
    print(f"rate limiter: {r['rate_limiter']}; bot started in {r['bot_start_s']} s")
    print(f"baseline: bare sendMessage round trip p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms (n={b['n']})")
    nb, ns = r["non_chain_burst"], r["non_chain_steady"]
    print(f"non-chain burst: {nb['updates']} updates from {r['users']} users in {nb['seconds']} s = {nb['updates_per_s']}/s; "
          f"update->reply p50 {nb['p50_ms']} ms, p95 {nb['p95_ms']} ms")
    print(f"non-chain steady at {ns['offered_per_s']}/s: update->reply p50 {ns['p50_ms']} ms, p95 {ns['p95_ms']} ms "
          f"(goal p95 <= 100 ms; baseline p95 {b['p95_ms']} ms)")
    p = r["pay"]
    print(f"/pay at {p['offered_per_s']}/s: {p['payments']} payments, {p['paid_per_s']}/s; update->reply p50 {p['p50_ms']} ms, "
          f"p95 {p['p95_ms']} ms")
    n = r["notification_commit_to_send"]
    print(f"notifications, outbox commit -> sendMessage: p50 {n['p50_ms']} ms, p95 {n['p95_ms']} ms (n={n['n']}; "
          f"target < {n['target_ms']} ms; baseline p50 {b['p50_ms']} ms)")
    print(f"replies that were an apology or outage notice: {r['failed_replies']}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--pays", type=int, default=200)
    ap.add_argument("--per-user", type=int, default=3)
    ap.add_argument("--rate", type=float, default=20.0, help="steady non-chain messages per second")
    ap.add_argument("--pay-rate", type=float, default=10.0, help="steady /pay messages per second")
    ap.add_argument("--no-rate-limiter", action="store_true",
                    help="measure the engine's capacity without Telegram's 30 messages/s (not a production setting)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    result = asyncio.run(main(a.users, a.pays, a.per_user, a.rate, a.pay_rate, not a.no_rate_limiter))
    print(json.dumps(result)) if a.json else _print(result)
