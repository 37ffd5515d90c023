"""/bulk through the engine on fakes: preview, refusals, confirmation, settling in chunks, recovery, cancel, retry."""

import asyncio
import csv
import io
from datetime import timedelta

import pytest

from core.bulk import settle
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.bulk.views import safe_cell
from core.commands import Actor
from core.engine import Engine
from core.model import NotificationType
from core.replies import loads
from core.services import Policy
from tests.bulk_fakes import FakeBatchChain, FakeBulkDatabase
from tests.fakes import FakeClock, RecordingQueue

OP = Actor("console", "op", "Operator")
BOB = Actor("telegram", "7", "Bob", "bob")


def addr(i: int) -> str:
    from core.addresses import to_checksum

    return to_checksum("0x" + f"{i + 1:040x}")


def payout_csv(n: int, amount: str = "0.5", extra: str = "") -> bytes:
    return ("recipient,amount,token,memo\n" + "".join(f"{addr(i)},{amount},CRO,=SUM(A{i})\n" for i in range(n)) + extra).encode()


@pytest.fixture
def world():
    chain, db, clock, queue = FakeBatchChain(), FakeBulkDatabase(), FakeClock(), RecordingQueue()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=Policy(operators=frozenset({OP.ref})))
    engine.services.bulk = BulkPolicy(chunk_size=4, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    return engine, chain, db, clock, queue


def batch_id_of(reply) -> str:
    return next(b.command.split()[-1] for b in reply.buttons if b.command.startswith("/bulk execute"))


async def run_jobs(engine, queue):
    for job, args, _ in list(queue.jobs):
        if job == settle.JOB:
            await settle.work(engine.services, *args)


async def test_valid_file_is_previewed_and_stored_without_paying(world):
    engine, chain, db, _, _ = world
    reply = await engine.bulk_upload(BOB, "tg-1-1", "pay.csv", payout_csv(10))
    text = reply.plain()
    assert reply.kind == "info", text
    assert "Recipients: 10" in text and "Total: 5 CRO" in text and "Estimated network fee: ~" in text
    assert "holds enough" in text and "line 2" in text
    (batch,) = db.store.batches.values()
    assert batch.status is BatchStatus.PREVIEW and batch.rows == 10 and not chain.batches_signed


async def test_file_with_errors_stores_nothing_and_reports_them(world):
    engine, _, db, _, _ = world
    data = payout_csv(3, extra="".join(f"0x12,{i + 1}\n" for i in range(25)))
    reply = await engine.bulk_upload(OP, "k-err", "bad.csv", data)
    text = reply.plain()
    assert reply.kind == "error" and "25 errors" in text and "line 5:" in text and not reply.buttons
    assert text.count("  line ") == 20 and reply.files and reply.files[0].filename == "bad-errors.csv"
    assert not getattr(db.store, "batches", {})
    unreadable = await engine.bulk_upload(OP, "k-bin", "x.csv", b"\x00\x01")
    assert unreadable.kind == "error" and "cannot be used" in unreadable.plain()


async def test_only_operators_execute_and_a_refusal_changes_nothing(world):
    engine, chain, db, _, queue = world
    bid = batch_id_of(await engine.bulk_upload(BOB, "k1", "pay.csv", payout_csv(5)))
    refused = await engine.handle_text(f"/bulk execute {bid}", actor=BOB, key="k2")
    assert refused.kind == "error" and "Only operators" in refused.plain()
    assert db.store.batches[bid].status is BatchStatus.PREVIEW and not queue.jobs


async def test_execute_settles_in_chunks_with_progress_and_a_safe_report(world):
    engine, chain, db, clock, queue = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(10)))
    reply = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    assert "10 payouts in 3 transactions" in reply.plain(), reply.plain()
    assert [j for j in queue.jobs if j[0] == settle.JOB] == [
        (settle.JOB, (bid, i), f"bulk-{bid}-{i}") for i in range(3)
    ]
    await run_jobs(engine, queue)
    batch = db.store.batches[bid]
    assert batch.status is BatchStatus.DONE and batch.paid == 10 and batch.failed == 0
    assert len(chain.batches_signed) == 3 and sorted(n for _, n in chain.batches_signed) == [0, 1, 2]
    assert all(chain.received[(addr(i), "CRO")] == 5 * 10**17 for i in range(10))
    kinds = [n.type for n in db.store.outbox]
    assert NotificationType.BATCH_PROGRESS in kinds and kinds[-1] is NotificationType.BATCH_COMPLETE
    progress = [n for n in db.store.outbox if n.type is NotificationType.BATCH_PROGRESS]
    assert {settle.progress_slot(n) for n in progress} == {f"{bid}:progress"}
    assert "100% (10 / 10)" in loads(progress[-1].body).plain()
    done = loads(db.store.outbox[-1].body)
    assert "Paid: 10 of 10" in done.plain() and done.private
    report = list(csv.reader(io.StringIO(done.files[0].content.decode("utf-8-sig"))))
    assert report[0] == ["line", "recipient", "amount", "token", "memo", "status", "tx_hash", "error"]
    assert report[1][0] == "2" and report[1][4] == "'=SUM(A0)" and report[1][5] == "paid" and report[1][6].startswith("0x")
    status = (await engine.handle_text(f"/bulk status {bid}", actor=OP, key="k3")).plain()
    assert "done" in status and "100% (10 / 10)" in status


async def test_duplicates_and_a_repeated_file_need_explicit_confirmation(world):
    engine, chain, db, _, queue = world
    data = payout_csv(3) + f"{addr(0)},1,CRO,again\n".encode()
    first = await engine.bulk_upload(OP, "k1", "pay.csv", data)
    assert "appear more than once" in first.plain()
    bid = batch_id_of(first)
    warn = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    assert "confirm" in warn.plain() and not queue.jobs and db.store.batches[bid].status is BatchStatus.PREVIEW
    go = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k3")
    assert "Executing" in go.plain() and queue.jobs
    again = await engine.bulk_upload(OP, "k4", "pay-copy.csv", data)
    assert f"uploaded before as {bid}" in again.plain()
    warn2 = await engine.handle_text(f"/bulk execute {batch_id_of(again)}", actor=OP, key="k5")
    assert "same file" in warn2.plain()


async def test_short_treasury_is_shown_and_refused(world):
    engine, chain, db, _, queue = world
    reply = await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(3, amount="40"))
    assert "short by 20 CRO" in reply.plain()
    refused = await engine.handle_text(f"/bulk execute {batch_id_of(reply)}", actor=OP, key="k2")
    assert refused.kind == "error" and "needs 120 CRO" in refused.plain() and not queue.jobs


async def test_a_worker_dying_after_signing_is_recovered_without_paying_twice(world):
    engine, chain, db, _, queue = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(10)))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    signed = await settle._claim_and_sign(engine.services, bid, 2)  # then the process "dies"
    assert [c.status for c in signed] == [ChunkStatus.SIGNED] * 2 and not chain.sent
    await settle.work(engine.services, bid, 0)  # another worker: takes the rest, then the stale ones
    batch = db.store.batches[bid]
    assert batch.status is BatchStatus.DONE and batch.paid == 10
    assert sum(chain.received.values()) == 10 * 5 * 10**17 and len(chain.paid) == 10
    assert len(chain.batches_signed) == 3  # nothing was signed twice


async def test_a_refused_recipient_fails_alone_and_retry_reruns_only_it(world):
    engine, chain, db, _, queue = world
    chain.refuse.add(addr(2))
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(6)))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    await run_jobs(engine, queue)
    batch = db.store.batches[bid]
    assert (batch.paid, batch.failed) == (5, 1)
    row = next(r for r in db.store.batch_rows[bid] if r.recipient == addr(2))
    assert row.status is RowStatus.FAILED and "refused" in row.error
    assert "Retry" in " ".join(b.label for b in (await engine.handle_text(f"/bulk status {bid}", actor=OP, key="k3")).buttons)
    chain.refuse.clear()
    queue.jobs.clear()
    reply = await engine.handle_text(f"/bulk retry {bid}", actor=OP, key="k4")
    assert "1 failed payouts in 1 transactions" in reply.plain()
    await run_jobs(engine, queue)
    batch = db.store.batches[bid]
    assert (batch.paid, batch.failed, batch.status) == (6, 0, BatchStatus.DONE)
    assert len(chain.batches_signed[-1][0]) == 1 and len(chain.paid) == 6


async def test_cancel_before_and_during_execution(world):
    engine, chain, db, _, queue = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(4)))
    assert "Nothing was paid" in (await engine.handle_text(f"/bulk cancel {bid}", actor=OP, key="k2")).plain()
    assert db.store.batches[bid].status is BatchStatus.CANCELLED
    bid2 = batch_id_of(await engine.bulk_upload(OP, "k3", "pay2.csv", payout_csv(10, amount="0.25")))
    await engine.handle_text(f"/bulk execute {bid2}", actor=OP, key="k4")
    await settle._send_and_record(engine.services, bid2, await settle._claim_and_sign(engine.services, bid2, 1))
    reply = await engine.handle_text(f"/bulk cancel {bid2}", actor=OP, key="k5")
    assert "6 payouts not yet sent are cancelled" in reply.plain()
    await settle.work(engine.services, bid2, -1)
    batch = db.store.batches[bid2]
    assert (batch.paid, batch.cancelled, batch.status) == (4, 6, BatchStatus.DONE)
    assert len(chain.paid) == 4


async def test_console_may_upload_a_path_but_chat_platforms_may_not(world, tmp_path):
    engine, *_ = world
    f = tmp_path / "p.csv"
    f.write_bytes(payout_csv(2))
    ok = await engine.handle_text(f"/bulk upload {f}", actor=OP, key="k1")
    assert "Recipients: 2" in ok.plain()
    refused = await engine.handle_text("/bulk upload /etc/passwd", actor=BOB, key="k2")
    assert refused.kind == "error" and "attachment" in refused.plain()


def test_spreadsheet_cells_are_escaped():
    assert [safe_cell(x) for x in ["=1+1", "+1", "-1", "@x", "\tx", "ok", None, 5]] == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "ok", "", "5"
    ]


async def test_node_and_database_outages_are_waited_out(world):
    engine, chain, db, _, queue = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(10)))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    chain.down = True
    db.down = True

    async def come_back():
        await asyncio.sleep(0.3)
        chain.down = False
        await asyncio.sleep(0.3)
        db.down = False

    await asyncio.gather(settle.work(engine.services, bid, 0), come_back())
    batch = db.store.batches[bid]
    assert (batch.status, batch.paid) == (BatchStatus.DONE, 10) and len(chain.paid) == 10


class _DeadQueue:
    def enqueue(self, *a, **k):
        raise ConnectionError("redis is down")


async def test_execute_with_the_queue_down_keeps_the_batch_for_resume(world):
    engine, chain, db, _, _ = world
    engine.services.queue = _DeadQueue()
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(3)))
    reply = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    assert "starts when a worker is back" in reply.plain() and reply.kind == "info"
    engine.services.queue = queue = RecordingQueue()
    assert await settle.resume(engine.services) == [bid]
    await run_jobs(engine, queue)
    assert db.store.batches[bid].paid == 3


async def test_a_batch_is_visible_only_to_its_uploader_and_operators(world):
    engine, *_ = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(2)))
    other = await engine.handle_text(f"/bulk status {bid}", actor=BOB, key="k2")
    assert other.kind == "error" and "no bulk payout" in other.plain()
    mine = batch_id_of(await engine.bulk_upload(BOB, "k3", "pay.csv", payout_csv(2)))
    assert "preview" in (await engine.handle_text(f"/bulk status {mine}", actor=BOB, key="k4")).plain()
    assert "preview" in (await engine.handle_text(f"/bulk status {mine}", actor=OP, key="k5")).plain()


async def test_with_the_node_away_preview_says_so_and_execute_pays_nothing(world):
    engine, chain, db, _, queue = world
    chain.down = True
    preview = await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(2))
    assert "cannot be read right now" in preview.plain() and "holds enough" not in preview.plain()
    refused = await engine.handle_text(f"/bulk execute {batch_id_of(preview)}", actor=OP, key="k2")
    assert refused.kind == "error" and "Nothing was paid" in refused.plain() and not queue.jobs
    assert db.store.batches[batch_id_of(preview)].status is BatchStatus.PREVIEW


async def test_rows_of_running_batches_count_against_the_treasury(world):
    engine, chain, db, _, queue = world
    first = batch_id_of(await engine.bulk_upload(OP, "k1", "a.csv", payout_csv(2, amount="30")))
    await engine.handle_text(f"/bulk execute {first}", actor=OP, key="k2")  # 60 of 100 CRO, not yet sent
    second = await engine.bulk_upload(OP, "k3", "b.csv", payout_csv(2, amount="25"))
    assert "can spend 40 CRO" in second.plain() and "short by 10 CRO" in second.plain()
