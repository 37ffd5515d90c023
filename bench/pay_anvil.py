"""/pay end to end on a fresh anvil: command in -> signed, stored, sent, receipt -> reply. p50/p95 beside
two baselines from the same run: the chain adapter alone (sign, send, receipt; no engine, no database) and a
plain signed CRO transfer through the same node."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from adapters.chain.deploy import Deployment  # noqa: E402
from adapters.chain.devnet import ANVIL_DEV_KEY, anvil_keys, deploy_dev_stack, start_anvil  # noqa: E402
from bot.bootstrap import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.commands import Actor  # noqa: E402
from core.ports import PaymentOrder  # noqa: E402

OP = Actor("console", "bench", "Bench")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(ms: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1), "n": len(ms)}


def stack_settings(url: str, dep: Deployment, executor_key: str, data_dir: Path, database_url: str | None,
                   **extra: Any) -> Settings:
    """Settings for a bot on a fresh dev stack (the bench's operator, the stack's tokens), plus `extra`."""
    return Settings(
        _env_file=None, data_dir=data_dir, rpc_url=url, private_key=executor_key,
        settlement_contract_address=dep.settlement, operators=OP.ref, database_url=database_url,
        tokens=",".join(f"{s}={a}" for s, a in dep.tokens.items()), **extra,
    )


async def main(n: int, database_url: str | None) -> dict:
    anvil = start_anvil()
    try:
        executor_key = anvil_keys(2)[1]
        dep = await deploy_dev_stack(anvil.url, executor=Account.from_key(executor_key).address)
        with tempfile.TemporaryDirectory() as tmp:
            # One operator pays n times a minute here; bench/rate_limit.py measures the limit.
            settings = stack_settings(anvil.url, dep, executor_key, Path(tmp), database_url, rate_limit_pay="off")
            app = await build(settings)
            try:
                chain = app.chain
                for _ in range(5):  # warm up connections and caches
                    await app.engine.handle_text(f"/pay 0x{secrets.token_hex(20)} 0.001", actor=OP, key=secrets.token_hex(8))
                engine_ms, adapter_ms, transfer_ms = [], [], []
                for i in range(n):
                    to = "0x" + secrets.token_hex(20)
                    t = time.perf_counter()
                    reply = await app.engine.handle_text(f"/pay {to} 0.001", actor=OP, key=f"bench-{i}")
                    engine_ms.append((time.perf_counter() - t) * 1000)
                    assert reply.kind == "ok", reply.plain()

                    t = time.perf_counter()
                    order = PaymentOrder("0x" + secrets.token_hex(32), to, chain.tokens.native, 10**15)
                    signed = await chain.sign_payment(order, await chain.pending_nonce())
                    await chain.broadcast(signed.raw)
                    assert (await chain.wait_for_receipt(signed.tx_hash, 30)).ok
                    adapter_ms.append((time.perf_counter() - t) * 1000)

                    t = time.perf_counter()
                    node = chain.node
                    deployer = Account.from_key(ANVIL_DEV_KEY)
                    tx = {"to": Account.create().address, "value": 1, "gas": 21_000, "maxFeePerGas": 10**11,
                          "maxPriorityFeePerGas": 10**9, "nonce": await node.pending_nonce(deployer.address),
                          "chainId": chain.chain_id, "type": 2}
                    tx_hash = await node.send_raw(deployer.sign_transaction(tx).raw_transaction)
                    while await node.receipt(tx_hash) is None:
                        await asyncio.sleep(0.001)
                    transfer_ms.append((time.perf_counter() - t) * 1000)
            finally:
                await app.close()
    finally:
        anvil.stop()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "pay_end_to_end": summary(engine_ms),
        "baseline_adapter_only": summary(adapter_ms),
        "baseline_plain_transfer": summary(transfer_ms),
        "goal_p95_ms": 150,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1:5432/bench (default: a SQLite file)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.database_url))))
