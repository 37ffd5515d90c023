"""Bulk row ids against a contract ahead of the database (PostgreSQL, anvil): a second bot with a fresh database on
the same Settlement (as after restoring an old backup) pays its batch in full instead of the contract skipping
rows the first bot's batch already paid; and rows another batch pays after the check fail, alerted, not paid."""

from __future__ import annotations

import secrets

import pytest
from eth_account import Account

from bot.bootstrap import build
from core.bulk import settle as bulk_settle
from core.jobs import Job
from tests.fakes import RecordingQueue
from tests.integration.test_pay_live import OP, balance, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]


def payout_file(recipients: list[str]) -> bytes:
    return ("recipient,amount,token\n" + "".join(f"{a},0.01,CRO\n" for a in recipients)).encode()


async def start_batch(app, recipients: list[str]) -> str:
    preview = await app.engine.bulk_upload(OP, "up-" + secrets.token_hex(6), "pay.csv", payout_file(recipients))
    bid = next(b.command.split()[-1] for b in preview.buttons if b.command.startswith("/bulk execute"))
    reply = await app.engine.handle_text(f"/bulk execute {bid}", actor=OP, key="ex-" + secrets.token_hex(6))
    assert "Executing" in reply.plain(), reply.plain()
    return bid


async def run_jobs(app) -> None:
    while app.queue.jobs:
        job, args, _ = app.queue.jobs.pop(0)
        if job is Job.BULK_SETTLE:
            await bulk_settle.work(app.engine.services, *args)


async def pay_batch(app, recipients: list[str]) -> str:
    bid = await start_batch(app, recipients)
    await run_jobs(app)
    return bid


async def stored(app, bid: str):
    async with app.engine.services.uow() as uow:
        return await uow.batches.get(bid), await uow.batches.rows(bid)


async def test_a_fresh_database_on_a_used_contract_pays_every_row(anvil_stack, new_postgres_database, tmp_path):
    first = await build(settings_for(anvil_stack.url, anvil_stack, new_postgres_database(), tmp_path / "a"),
                        queue=RecordingQueue(), migrate=True)
    second = await build(settings_for(anvil_stack.url, anvil_stack, new_postgres_database(), tmp_path / "b"),
                         queue=RecordingQueue(), migrate=True)
    try:
        earlier = [Account.create().address for _ in range(3)]
        await pay_batch(first, earlier)
        assert all(balance(anvil_stack.url, a) == 10**16 for a in earlier)

        later = [Account.create().address for _ in range(3)]
        bid = await pay_batch(second, later)  # its counter starts where the first database's did
        assert all(balance(anvil_stack.url, a) == 10**16 for a in later)
        batch, rows = await stored(second, bid)
        assert batch.paid == 3 and batch.failed == 0
        async with first.engine.services.uow() as uow:
            taken = {r.row_id >> 8 for b in await uow.batches.for_actor(OP.ref, 5) for r in await uow.batches.rows(b.id)}
        assert not {r.row_id >> 8 for r in rows} & taken  # its ids moved past the words the contract had used
    finally:
        await first.close()
        await second.close()


async def test_rows_another_batch_paid_after_the_check_fail_alerted_and_a_retry_pays_them(anvil_stack,
                                                                                           new_postgres_database,
                                                                                           tmp_path):
    admin = "telegram:900"
    first = await build(settings_for(anvil_stack.url, anvil_stack, new_postgres_database(), tmp_path / "a"),
                        queue=RecordingQueue(), migrate=True)
    second = await build(settings_for(anvil_stack.url, anvil_stack, new_postgres_database(), tmp_path / "b",
                                      ADMINS=admin), queue=RecordingQueue(), migrate=True)
    try:
        mine = [Account.create().address for _ in range(2)]
        bid = await start_batch(second, mine)  # checked against the chain: its words are free, nothing sent yet
        _, rows = await stored(second, bid)
        async with first.engine.services.uow() as uow:  # the other database hands out the very same ids
            await uow.batches.skip_row_ids(rows[0].row_id)
            await uow.commit()
        other = await pay_batch(first, [Account.create().address for _ in range(2)])
        assert [r.row_id for r in (await stored(first, other))[1]] == [r.row_id for r in rows]
        await run_jobs(second)  # the contract skips both rows: another batch's transaction paid their ids

        batch, rows = await stored(second, bid)
        assert batch.paid == 0 and batch.failed == 2 and all(balance(anvil_stack.url, a) == 0 for a in mine)
        assert all("row id already used on chain by another batch" in (r.error or "") for r in rows)
        async with second.engine.services.uow() as uow:
            alerts = [n for n in await uow.outbox.pending(100) if n.user_ref == admin]
        assert len(alerts) == 1 and "already used on chain" in alerts[0].body

        reply = await second.engine.handle_text(f"/bulk retry {bid}", actor=OP, key="rt-" + secrets.token_hex(6))
        assert "Retrying" in reply.plain(), reply.plain()
        await run_jobs(second)
        batch, _ = await stored(second, bid)
        assert batch.paid == 2 and batch.failed == 0 and all(balance(anvil_stack.url, a) == 10**16 for a in mine)
    finally:
        await first.close()
        await second.close()
