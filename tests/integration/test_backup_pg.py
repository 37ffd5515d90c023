"""Backing up PostgreSQL with pg_dump and restoring it (docs/operations.md): nothing is paid twice or lost."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from bot.bootstrap import build
from core.model import IntentStatus

from .test_pay_live import CrashOnBroadcast, balance, fresh_address, say, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]


async def test_a_restored_dump_pays_a_signed_payment_once_and_never_repeats_a_paid_one(anvil_stack, new_postgres_database,
                                                                                      tmp_path):
    live = new_postgres_database()
    app = await build(settings_for(anvil_stack.url, anvil_stack, live, tmp_path))
    paid, signed = fresh_address(), fresh_address()
    try:
        assert (await say(app, f"/pay {paid} 0.4 CRO", key="tg-1-1")).kind == "ok"
        # The process dies after storing the next signed payment and before sending it: the dump holds it.
        app.engine.services.chain = CrashOnBroadcast(app.chain)
        with pytest.raises(KeyboardInterrupt):
            await say(app, f"/pay {signed} 0.6 CRO", key="tg-1-2")
    finally:
        await app.close()

    dump = tmp_path / "snowrail.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", live], check=True, capture_output=True)
    restored = new_postgres_database()
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored}", str(dump)], check=True, capture_output=True)

    back = await build(settings_for(anvil_stack.url, anvil_stack, restored, tmp_path))
    try:
        async with back.uow() as uow:
            (waiting,) = await uow.intents.with_status(IntentStatus.SUBMITTED)
        assert waiting.key == "tg-1-2" and waiting.raw_tx
        for _ in range(20):  # what every start does: the stored bytes are sent (never re-signed), then confirmed
            await back.engine.reconcile()
            async with back.uow() as uow:
                done = await uow.intents.get(waiting.id)
            if done.status is not IntentStatus.SUBMITTED:
                break
            await asyncio.sleep(0.05)
        assert done.status is IntentStatus.CONFIRMED and done.tx_hash == waiting.tx_hash
        assert "Already handled" in (await say(back, f"/pay {paid} 0.4 CRO", key="tg-1-1")).plain()
        assert "Already handled" in (await say(back, f"/pay {signed} 0.6 CRO", key="tg-1-2")).plain()
    finally:
        await back.close()
    assert balance(anvil_stack.url, paid) == 4 * 10**17 and balance(anvil_stack.url, signed) == 6 * 10**17
