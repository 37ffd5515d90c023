"""M-of-N approvals on a fresh anvil: from the last /approve in to the confirmed transaction (its reply), p50/p95,
beside a plain /pay (below the threshold) measured in the same run on the same stack."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from adapters.chain.devnet import anvil_keys, deploy_dev_stack, start_anvil  # noqa: E402
from bot.bootstrap import build  # noqa: E402
from bench.pay_anvil import OP, stack_settings, summary  # noqa: E402
from core.commands import Actor  # noqa: E402

APRIL, AMOS = Actor("telegram", "901", "April"), Actor("telegram", "902", "Amos")


async def main(n: int, database_url: str | None) -> dict:
    anvil = start_anvil()
    try:
        executor_key = anvil_keys(2)[1]
        dep = await deploy_dev_stack(anvil.url, executor=Account.from_key(executor_key).address)
        with tempfile.TemporaryDirectory() as tmp:
            settings = stack_settings(
                anvil.url, dep, executor_key, Path(tmp), database_url,
                approvers=f"{APRIL.ref},{AMOS.ref}", approval_threshold="CRO=0.001", approvals_required=2,
                rate_limit_pay="off", rate_limit_default="off",
            )
            app = await build(settings)

            async def say(text: str, actor: Actor):
                return await app.engine.handle_text(text, actor=actor, key=secrets.token_hex(8))

            try:
                for _ in range(5):  # warm up connections and caches
                    await say(f"/pay 0x{secrets.token_hex(20)} 0.001", OP)
                last_ms, pay_ms, first_ms = [], [], []
                for _ in range(n):
                    asked = await say(f"/pay 0x{secrets.token_hex(20)} 0.002", OP)
                    pid = asked.plain().split()[1]
                    assert "awaiting approval" in asked.plain(), asked.plain()
                    t = time.perf_counter()
                    one = await say(f"/approve {pid}", APRIL)
                    first_ms.append((time.perf_counter() - t) * 1000)
                    assert "1 of 2" in one.plain(), one.plain()
                    t = time.perf_counter()
                    done = await say(f"/approve {pid}", AMOS)
                    last_ms.append((time.perf_counter() - t) * 1000)
                    assert "Approved (2 of 2)" in done.plain() and "confirmed" in done.plain(), done.plain()

                    t = time.perf_counter()
                    plain = await say(f"/pay 0x{secrets.token_hex(20)} 0.001", OP)
                    pay_ms.append((time.perf_counter() - t) * 1000)
                    assert plain.kind == "ok", plain.plain()
            finally:
                await app.close()
    finally:
        anvil.stop()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "last_approval_to_confirmed": summary(last_ms),
        "baseline_plain_pay": summary(pay_ms),
        "first_approval_reply": summary(first_ms),
        "goal_p95_ms": 200,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--database-url", help="e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench (default: SQLite)")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.database_url))))
