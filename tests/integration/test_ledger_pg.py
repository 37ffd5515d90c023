"""Recipients told and the team ledger through the real stack: anvil, PostgreSQL, Redis and an RQ worker process."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.db.tables import NotificationRow
from bot.bootstrap import build
from bot.settings import Settings
from core.bulk.model import BatchStatus
from core.commands import Actor
from core.model import User
from core.replies import loads
from tests.integration.rq_workers import wait_for_workers, worker_logs

pytestmark = [pytest.mark.anvil, pytest.mark.postgres, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_LEDGER_REDIS_URL", "redis://127.0.0.1:6379/12")  # a database of its own
OP = Actor("console", "fin", "Finance")
ALICE = Actor("telegram", "501", "Alice", "alice")


def fresh_address() -> str:
    from core.addresses import to_checksum

    return to_checksum("0x" + secrets.token_hex(20))


async def test_a_mixed_batch_tells_its_linked_recipient_once_and_fills_the_ledger(anvil_stack, new_postgres_database,
                                                                                   tmp_path) -> None:
    from bench.bulk import redis_ok

    if not redis_ok(REDIS_URL):
        pytest.fail(f"Redis is not reachable at {REDIS_URL}", pytrace=False)
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "TOKENS", "CHAIN_ID")},
           **anvil_stack.env(), "DATABASE_URL": new_postgres_database(), "REDIS_URL": REDIS_URL,
           "CHAIN_ID": str(anvil_stack.anvil.chain_id), "OPERATORS": OP.ref, "BOT_NAME": "Acme Finance",
           "BULK_CHUNK_SIZE": "2", "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"}
    settings = Settings(_env_file=None, data_dir=tmp_path, **{k.lower(): env[k] for k in (
        "RPC_URL", "PRIVATE_KEY", "SETTLEMENT_CONTRACT_ADDRESS", "TOKENS", "DATABASE_URL", "REDIS_URL", "CHAIN_ID",
        "OPERATORS", "BOT_NAME", "BULK_CHUNK_SIZE")})
    app = await build(settings)
    worker = subprocess.Popen([sys.executable, "-m", "workers.bulk", "--simple"], cwd=REPO, env=env,
                              stdout=(tmp_path / "w.log").open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        await wait_for_workers(REDIS_URL, [worker], tmp_path)
        alice_wallet, others = fresh_address(), [fresh_address() for _ in range(3)]
        async with app.uow() as uow:  # Alice linked her wallet (the /link proof is tested elsewhere)
            await uow.users.save(User(ALICE.ref, "telegram", ALICE.user_id, "Alice", "alice", wallet=alice_wallet,
                                      created_at=datetime.now(UTC)))
            await uow.commit()
        paid = await app.engine.handle_text(f"/pay {others[0]} 0.5 CRO", actor=OP, key="pay-1")
        assert paid.kind == "ok", paid.plain()
        lines = ["recipient,amount,token,memo", f"{alice_wallet.lower()},1.5,CRO,November salary",
                 f"{others[1]},2,USDC,", f"{others[2]},0.25,CRO,", f"{alice_wallet},3.25,USDC,November expenses"]
        preview = await app.engine.bulk_upload(OP, "up-1", "nov.csv", ("\n".join(lines) + "\n").encode())
        batch_id = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
        go = await app.engine.handle_text(f"/bulk execute {batch_id}", actor=OP, key="go-1")
        assert "Executing" in go.plain(), go.plain()
        deadline = time.monotonic() + 90
        while True:
            async with app.uow() as uow:
                batch = await uow.batches.get(batch_id)
            if batch is not None and batch.status is BatchStatus.DONE:
                break
            assert time.monotonic() < deadline, f"batch not done: {batch}\n{worker_logs(tmp_path)}"
            await asyncio.sleep(0.1)
        async with app.uow() as uow:
            rows = await uow.batches.rows(batch_id)
        assert (batch.paid, batch.failed) == (4, 0), [(r.line, r.token, r.error) for r in rows]

        async with app.uow() as uow:
            told = (await uow.session.execute(  # type: ignore[attr-defined]  # SqlUnitOfWork's session, for the raw rows
                select(NotificationRow).where(NotificationRow.type == "payment_received"))).scalars().all()
            rows = await uow.batches.rows(batch_id)
        # Alice's two rows (two tokens, two chunks) make one DM, whatever the worker did meanwhile.
        assert [n.user_ref for n in told] == [ALICE.ref]
        text = loads(told[0].body).plain()
        assert "You received 1.5 CRO and 3.25 USDC in 2 payouts from Acme Finance" in text and batch_id in text
        assert "November salary" in text and "November expenses" in text
        assert all(r.tx_hash in text for r in rows if r.recipient.lower() == alice_wallet.lower())

        ledger = await app.engine.handle_text("/ledger", actor=OP, key="l-1")
        shown = ledger.plain().splitlines()
        assert ledger.private and shown[0] == "Treasury ledger: the last 5 outflows, newest first", ledger.plain()
        assert all(f"bulk  {batch_id}:" in line for line in shown[1:5]) and "payment  pay-" in shown[5]
        assert shown[-1] == "Paid in these: 2.25 CRO · 5.25 USDC."
        export = await app.engine.handle_text("/ledger export USDC", actor=OP, key="l-2")
        table = list(csv.reader(io.StringIO(export.files[0].content.decode("utf-8-sig"))))
        assert [r[4:7] + [r[9]] for r in table[1:]] == [["USDC", "2000000", "2", "paid"],
                                                        ["USDC", "3250000", "3.25", "paid"]]
        assert {r[10] for r in table[1:]} <= {r.tx_hash for r in rows}
        refused = await app.engine.handle_text("/ledger", actor=ALICE, key="l-3")
        assert refused.kind == "error" and "member" in refused.plain()

        mine = (await app.engine.handle_text("/history", actor=ALICE, key="h-1")).plain().splitlines()
        assert mine[0] == "Your last 2 payments:" and all(f"{batch_id}:" in line for line in mine[1:])
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(15)
        await app.close()
