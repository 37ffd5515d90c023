"""Escrowed intents on a fresh anvil mining a block every second (issue 13's speed goals), each beside its baseline:
- funding transaction mined -> the "funded" DM delivered (a recording notifier), p50/p95, beside the block time;
- price moved above the condition -> the release mined, in blocks after the price's block, and in ms;
- 1,000 open price intents checked in one price step of the due-time loop, p95 ms, beside one feed read alone.
The bot runs its due-time loop as a chat bot does (Engine.tick every TICK_SECONDS) with inline notification delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from adapters.chain import escrow as ex  # noqa: E402
from adapters.chain.devnet import anvil_keys, deploy_dev_stack, start_anvil  # noqa: E402
from adapters.chain.rpc import HttpNode  # noqa: E402
from bench.pay_anvil import stack_settings, summary  # noqa: E402
from bot.background import TICK_SECONDS, Periodic  # noqa: E402
from bot.bootstrap import App, build  # noqa: E402
from core.commands import Actor  # noqa: E402
from core.escrow import watch  # noqa: E402
from core.escrow.handlers import terms_of  # noqa: E402
from core.escrow.model import Condition, EscrowIntent, EscrowStatus  # noqa: E402
from core.ports import Delivery  # noqa: E402
from core.replies import Reply  # noqa: E402

MEMBER = Actor("telegram", "700", "Mia", "mia")
BLOCK_S = 1
PAIR = "CRO/USD"


class RecordingNotifier:
    """Delivers nothing: notes when each intent's "funded" DM went out (perf_counter seconds)."""

    def __init__(self) -> None:
        self.funded_at: dict[str, float] = {}

    async def send(self, user_ref: str, reply: Reply) -> Delivery:
        text = reply.plain()
        if text.startswith("Intent int-") and " is funded " in text.split("\n")[0]:
            self.funded_at.setdefault(text.split()[1], time.perf_counter())
        return Delivery(ok=True)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        return await self.send(user_ref, reply)


class Wallet:
    """The member's wallet: signs fund calls and sends them all at once (they land in the next block)."""

    def __init__(self, node: HttpNode, key: str, chain_id: int) -> None:
        self.node, self.account, self.chain_id = node, Account.from_key(key), chain_id

    async def send_all(self, calls: list[tuple[str, bytes, int]]) -> list[str]:
        nonce, base = await self.node.pending_nonce(self.account.address), await self.node.base_fee()
        hashes = []
        for i, (to, data, value) in enumerate(calls):
            tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce + i, "to": to, "value": value, "data": data,
                  "gas": 300_000, "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9}
            hashes.append(await self.node.send_raw(bytes(self.account.sign_transaction(tx).raw_transaction)))
        return hashes


async def mined(node: HttpNode, hashes: list[str], *, poll: float = 0.01) -> dict[str, tuple[float, int]]:
    """When each transaction's receipt first showed (perf_counter), and its block."""
    seen: dict[str, tuple[float, int]] = {}
    while len(seen) < len(hashes):
        for h in hashes:
            if h not in seen and (r := await node.receipt(h)) is not None:
                seen[h] = (time.perf_counter(), r["block_number"])
        await asyncio.sleep(poll)
    return seen


async def statuses(app: App, ids: list[str]) -> dict[str, EscrowIntent]:
    async with app.uow() as uow:
        return {i: intent for i in ids if (intent := await uow.escrows.get(i)) is not None}


async def wait_for(app: App, ids: list[str], status: EscrowStatus, timeout: float = 30) -> dict[str, EscrowIntent]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = await statuses(app, ids)
        if all(i.status is status for i in found.values()):
            return found
        await asyncio.sleep(0.02)
    raise TimeoutError(f"intents never all {status.value}")


async def rounds(app: App, node: HttpNode, wallet: Wallet, notifier: RecordingNotifier, n_rounds: int,
                 per_round: int) -> tuple[list[float], list[int], list[float]]:
    s, prices = app.engine.services, app.engine.services.prices
    assert prices is not None
    dm_ms, release_blocks, release_ms = [], [], []
    settlement = s.chain.treasury
    for _ in range(n_rounds):
        await prices.set_price(PAIR, 10_000_000)  # 0.10: below every condition
        ids = []
        for _ in range(per_round):
            reply = await app.engine.handle_text(f"/pay 0x{secrets.token_hex(20)} 0.01 CRO when CRO above 0.12 USD",
                                                 actor=MEMBER, key=secrets.token_hex(8))
            assert reply.plain().startswith("Intent int-"), reply.plain()
            ids.append(reply.plain().split()[1].rstrip(":"))
        intents = await statuses(app, ids)
        calls = [(settlement, ex.fund_calldata(terms_of(s, intents[i]), intents[i].amount), intents[i].amount) for i in ids]
        hashes = await wallet.send_all(calls)
        seen = await mined(node, hashes)
        await wait_for(app, ids, EscrowStatus.FUNDED)
        while len([i for i in ids if i in notifier.funded_at]) < len(ids):
            await asyncio.sleep(0.01)
        dm_ms += [(notifier.funded_at[i] - seen[h][0]) * 1000 for i, h in zip(ids, hashes, strict=True)]

        tx = await prices.set_price(PAIR, 13_000_000)  # 0.13: every condition of the round holds
        assert tx is not None
        moved = (await mined(node, [tx]))[tx]
        done = await wait_for(app, ids, EscrowStatus.RELEASED)
        for intent in done.values():
            assert intent.nonce is not None and intent.tx_hash is not None
        our = [d.tx_hash for d in done.values() if d.tx_hash]
        released = await mined(node, our)
        release_blocks += [released[h][1] - moved[1] for h in our]
        release_ms += [(released[h][0] - moved[0]) * 1000 for h in our]
    return dm_ms, release_blocks, release_ms


async def price_step(app: App, n_open: int, samples: int) -> tuple[list[float], list[float]]:
    """n_open funded price intents none of which the price meets (above 1.00 USD); the step reads the feed once
    and asks the database which fire."""
    s, prices = app.engine.services, app.engine.services.prices
    assert prices is not None
    now = s.clock.now()
    async with app.uow() as uow:
        for i in range(n_open):
            await uow.escrows.add(EscrowIntent(
                id=f"int-b{i:07d}", key=f"bench-{i}", actor_ref=MEMBER.ref, recipient="0x" + secrets.token_hex(20),
                token="CRO", amount=10**16, salt="0x" + secrets.token_hex(32), intent_hash="0x" + secrets.token_hex(32),
                expires_at=now + timedelta(days=30), created_at=now, updated_at=now, condition=Condition.PRICE,
                status=EscrowStatus.FUNDED, pair=PAIR, above=True, threshold=100_000_000 + i, price_decimals=8,
                funded=10**16, funder="0x" + secrets.token_hex(20)))
        await uow.commit()
    step_ms, read_ms = [], []
    for _ in range(samples):
        t = time.perf_counter()
        assert await watch.check_prices(s, datetime.now(UTC)) == 0
        step_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await prices.latest(PAIR)
        read_ms.append((time.perf_counter() - t) * 1000)
    return step_ms, read_ms


async def main(n_rounds: int, per_round: int, n_open: int, database_url: str | None, tick: float) -> dict:
    anvil = start_anvil(extra_args=("--block-time", str(BLOCK_S)))
    node = HttpNode(anvil.url)
    try:
        keys = anvil_keys(6)
        dep = await deploy_dev_stack(anvil.url, executor=Account.from_key(keys[1]).address)
        with tempfile.TemporaryDirectory() as tmp:
            settings = stack_settings(anvil.url, dep, keys[1], Path(tmp), database_url, price_feeds=dep.price_feeds_setting(),
                                      rate_limit_pay="off", rate_limit_default="off")
            app = await build(settings)
            notifier = RecordingNotifier()
            app.deliveries.serve(notifier, MEMBER.platform)
            loop = Periodic(tick, app.engine.tick, "due-time loop").start()
            try:
                wallet = Wallet(node, keys[5], dep.chain_id)
                await rounds(app, node, wallet, notifier, 1, per_round)  # warm-up: connections, caches; not counted
                dm_ms, blocks, release_ms = await rounds(app, node, wallet, notifier, n_rounds, per_round)
            finally:
                await loop.stop()
            try:
                step_ms, read_ms = await price_step(app, n_open, 50)
            finally:
                await app.close()
    finally:
        await node.close()
        anvil.stop()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "block_time_ms": BLOCK_S * 1000,
        "tick_ms": tick * 1000,
        "funding_mined_to_funded_dm": {**summary(dm_ms), "goal_p95_ms": 500},
        "price_mined_to_release_mined_blocks": {"p50": sorted(blocks)[len(blocks) // 2],
                                                "p95": sorted(blocks)[min(len(blocks) - 1, round(0.95 * (len(blocks) - 1)))],
                                                "max": max(blocks), "n": len(blocks), "goal_p95": 1},
        "price_mined_to_release_mined": summary(release_ms),
        f"price_step_{n_open}_open_intents": {**summary(step_ms), "goal_p95_ms": 50},
        "baseline_one_feed_read": summary(read_ms),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=8, help="intents funded together, then released together")
    ap.add_argument("--open", type=int, default=1000, help="open price intents for the price-step figure")
    ap.add_argument("--database-url", help="an empty database, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench "
                    "(default: SQLite in a temporary directory)")
    ap.add_argument("--tick", type=float, default=TICK_SECONDS, help="seconds between due-time passes (default: the bot's)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds, args.per_round, args.open, args.database_url, args.tick))))
