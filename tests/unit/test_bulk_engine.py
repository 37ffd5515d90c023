"""/bulk through the engine on fakes: preview, refusals, confirmation, settling in chunks, recovery, cancel, retry."""

import asyncio
import csv
import io
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from core.bulk import settle
from core.bulk.model import BatchStatus, ChunkStatus, RowStatus
from core.bulk.policy import BulkPolicy
from core.bulk.views import safe_cell
from core.commands import Actor
from core.engine import Engine
from core.jobs import Job
from core.model import NotificationType
from core.notifications import progress_slot
from core.replies import loads
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

OP = Actor("console", "op", "Operator")
BOB = Actor("telegram", "7", "Bob", "bob")
TESS = Actor("discord", "5", "Tess", "tess", operator=True)  # an operator by Discord role, not in OPERATORS


def addr(i: int) -> str:
    from core.addresses import to_checksum

    return to_checksum("0x" + f"{i + 1:040x}")


def payout_csv(n: int, amount: str = "0.5", extra: str = "") -> bytes:
    return ("recipient,amount,token,memo\n" + "".join(f"{addr(i)},{amount},CRO,=SUM(A{i})\n" for i in range(n)) + extra).encode()


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=Policy(operators=frozenset({OP.ref})))
    engine.services.bulk = BulkPolicy(chunk_size=4, lease=timedelta(0), receipt_wait=0.01, idle_limit=5, lanes=1)
    return engine, chain, db, clock, queue


def batch_id_of(reply) -> str:
    return next(b.command.split()[-1] for b in reply.buttons if b.command.startswith("/bulk execute"))


async def until(condition, timeout: float = 10.0) -> None:
    """Wait until `condition()` holds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        await asyncio.sleep(0.01)


async def run_jobs(engine, queue):
    for job, args, _ in list(queue.jobs):
        if job == Job.BULK_SETTLE:
            await settle.work(engine.services, *args)


async def test_valid_file_is_previewed_and_stored_without_paying(world):
    engine, chain, db, _, _ = world
    reply = await engine.bulk_upload(OP, "tg-1-1", "pay.csv", payout_csv(10))
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
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(5)))
    refused = await engine.handle_text(f"/bulk execute {bid}", actor=BOB, key="k2")
    assert refused.kind == "error" and "Only operators" in refused.plain()
    assert db.store.batches[bid].status is BatchStatus.PREVIEW and not queue.jobs


async def test_execute_settles_in_chunks_with_progress_and_a_safe_report(world):
    engine, chain, db, clock, queue = world
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(10)))
    reply = await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    assert "10 payouts in 3 transactions" in reply.plain(), reply.plain()
    assert [j for j in queue.jobs if j[0] == Job.BULK_SETTLE] == [
        (Job.BULK_SETTLE, (bid, i), f"bulk-{bid}-{i}") for i in range(3)
    ]
    await run_jobs(engine, queue)
    batch = db.store.batches[bid]
    assert batch.status is BatchStatus.DONE and batch.paid == 10 and batch.failed == 0
    assert len(chain.batches_signed) == 3 and sorted(n for _, n in chain.batches_signed) == [0, 1, 2]
    assert all(chain.received[(addr(i), "CRO")] == 5 * 10**17 for i in range(10))
    kinds = [n.type for n in db.store.outbox]
    assert NotificationType.BATCH_PROGRESS in kinds and kinds[-1] is NotificationType.BATCH_COMPLETE
    progress = [n for n in db.store.outbox if n.type is NotificationType.BATCH_PROGRESS]
    assert {progress_slot(n) for n in progress} == {f"{bid}:progress"}
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
    assert "1 recipient appears more than once" in first.plain()
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
    assert "1 failed payout in 1 transaction." in reply.plain()
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
        # Each outage ends only once the job has met it (the node is asked first, then the database): waiting
        # for that, not for a guessed pause, is what makes the test prove the job waited them out.
        await until(lambda: chain.refused > 0)
        chain.down = False
        await until(lambda: db.refused > 0)
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
    mine = batch_id_of(await engine.bulk_upload(TESS, "k3", "pay.csv", payout_csv(2)))
    assert "preview" in (await engine.handle_text(f"/bulk status {mine}", actor=TESS, key="k4")).plain()
    assert "preview" in (await engine.handle_text(f"/bulk status {mine}", actor=OP, key="k5")).plain()
    assert "preview" in (await engine.handle_text(f"/bulk status {bid}", actor=TESS, key="k6")).plain()
    assert "no bulk payout" in (await engine.handle_text(f"/bulk status {mine}", actor=BOB, key="k7")).plain()


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


# ---------------------------------------------------------------- issue 9
async def test_m4_a_non_operator_may_check_a_file_but_no_batch_is_stored(world):
    engine, chain, db, _, queue = world
    reply = await engine.bulk_upload(BOB, "k1", "pay.csv", payout_csv(10))
    text = reply.plain()
    assert reply.kind == "info" and "checks out" in text and "Total: 5 CRO" in text and "Recipients: 10" in text
    assert "nothing was stored" in text and not reply.buttons
    assert "Treasury" not in text and "fee" not in text  # nothing about the treasury to a non-operator
    assert not getattr(db.store, "batches", {}) and not queue.jobs and not chain.batches_signed
    bad = await engine.bulk_upload(BOB, "k2", "bad.csv", payout_csv(1, extra="0x12,1\n"))
    assert bad.kind == "error" and "line 3" in bad.plain() and not getattr(db.store, "batches", {})


async def test_m4_uploads_per_hour_are_limited_per_person_and_the_refusal_names_the_limit(world):
    engine, chain, db, clock, _ = world
    engine.services.bulk = replace(engine.services.bulk, uploads_per_hour=3)
    for i in range(3):
        assert "checks out" in (await engine.bulk_upload(BOB, f"b{i}", "pay.csv", payout_csv(2))).plain()
    refused = await engine.bulk_upload(BOB, "b3", "pay.csv", payout_csv(2))
    assert refused.kind == "error" and "at most 3 files per hour" in refused.plain(), refused.plain()
    assert "13:00 UTC" in refused.plain()  # the fake clock says 12:00
    broken = await engine.bulk_upload(BOB, "b4", "x.json", b"[" * 100_000)  # refused before it is even read
    assert "at most 3 files per hour" in broken.plain()
    assert "Bulk payout" in (await engine.bulk_upload(OP, "o1", "pay.csv", payout_csv(2))).plain()  # per person
    clock.advance(hours=1)
    assert "checks out" in (await engine.bulk_upload(BOB, "b5", "pay.csv", payout_csv(2))).plain()


async def test_m4_rows_per_day_are_limited_per_person_and_the_refusal_names_the_limit(world):
    engine, chain, db, clock, _ = world
    engine.services.bulk = replace(engine.services.bulk, rows_per_day=25)
    first = batch_id_of(await engine.bulk_upload(OP, "o1", "a.csv", payout_csv(10)))
    batch_id_of(await engine.bulk_upload(OP, "o2", "b.csv", payout_csv(10, amount="0.25")))
    refused = await engine.bulk_upload(OP, "o3", "c.csv", payout_csv(10, amount="0.125"))
    text = refused.plain()
    assert refused.kind == "error" and "at most 25 rows per day" in text and "this file has 10 rows" in text, text
    assert "5 rows left today" in text and "Nothing was stored" in text
    assert len(db.store.batches) == 2 and first in db.store.batches
    batch_id_of(await engine.bulk_upload(OP, "o4", "d.csv", payout_csv(5, amount="0.125")))  # exactly 25
    used_up = await engine.bulk_upload(OP, "o5", "e.csv", payout_csv(1, amount="0.3"))
    assert used_up.kind == "error" and "at most 25 rows per day" in used_up.plain() and "used up" in used_up.plain()
    assert len(db.store.batches) == 3
    clock.advance(days=1)
    batch_id_of(await engine.bulk_upload(OP, "o6", "e.csv", payout_csv(1, amount="0.3")))


async def test_m4_upload_limits_are_shared_by_every_process_on_the_database(world):
    engine, chain, db, clock, queue = world
    other = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=engine.services.policy)
    for e in (engine, other):
        e.services.bulk = replace(engine.services.bulk, uploads_per_hour=2)
    assert "checks out" in (await engine.bulk_upload(BOB, "b1", "pay.csv", payout_csv(1))).plain()
    assert "checks out" in (await other.bulk_upload(BOB, "b2", "pay.csv", payout_csv(1))).plain()
    assert "at most 2 files per hour" in (await engine.bulk_upload(BOB, "b3", "pay.csv", payout_csv(1))).plain()
    assert "at most 2 files per hour" in (await other.bulk_upload(BOB, "b4", "pay.csv", payout_csv(1))).plain()


async def test_low_a_refused_parallel_signing_fails_the_chunk_at_fault(world):
    engine, chain, db, _, queue = world
    engine.services.bulk = replace(engine.services.bulk, in_flight=3)  # three chunks signed side by side
    chain.unsignable[addr(5)] = "the recipient contract reverts in simulation"  # a row of chunk 1 (rows 4-7)
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(12)))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    await settle.work(engine.services, bid, 0)
    batch = db.store.batches[bid]
    assert (batch.status, batch.paid, batch.failed) == (BatchStatus.DONE, 8, 4)
    failed = [r for r in db.store.batch_rows[bid] if r.status is RowStatus.FAILED]
    assert {r.chunk for r in failed} == {1} and {r.seq for r in failed} == {4, 5, 6, 7}
    assert all("reverts in simulation" in r.error for r in failed)
    assert {o.recipient for orders, _ in chain.batches_signed for o in orders} == {addr(i) for i in range(12)} - {addr(i) for i in range(4, 8)}
    sent = [c for (b, _), c in db.store.chunks.items() if b == bid and c.raw_tx]
    assert sorted(c.nonce for c in sent) == [0, 1] and {c.index for c in sent} == {0, 2}  # no nonce gap


async def test_bug_a_discord_role_operator_can_execute_and_retry_a_batch(world):
    engine, chain, db, _, queue = world
    assert TESS.ref not in engine.services.policy.operators
    chain.refuse.add(addr(1))
    bid = batch_id_of(await engine.bulk_upload(TESS, "k1", "pay.csv", payout_csv(3)))
    started = await engine.handle_text(f"/bulk execute {bid}", actor=TESS, key="k2")
    assert "Executing" in started.plain(), started.plain()
    await run_jobs(engine, queue)
    assert (db.store.batches[bid].paid, db.store.batches[bid].failed) == (2, 1)
    chain.refuse.clear()
    queue.jobs.clear()
    retried = await engine.handle_text(f"/bulk retry {bid}", actor=TESS, key="k3")
    assert "Retrying" in retried.plain(), retried.plain()
    await run_jobs(engine, queue)
    assert (db.store.batches[bid].paid, db.store.batches[bid].failed) == (3, 0)


def test_bug_is_operator_takes_an_actor_and_nothing_else():
    policy = Policy(operators=frozenset({OP.ref}))
    assert policy.is_operator(OP) and policy.is_operator(TESS) and not policy.is_operator(BOB)
    with pytest.raises(TypeError):
        policy.is_operator(OP.ref)  # a ref cannot carry the Discord role: refused, not half-answered


async def test_bug_status_of_a_cancelled_batch_shows_cancelled_and_what_was_paid_before(world):
    engine, chain, db, _, queue = world
    early = batch_id_of(await engine.bulk_upload(OP, "k1", "a.csv", payout_csv(4)))
    await engine.handle_text(f"/bulk cancel {early}", actor=OP, key="k2")
    text = (await engine.handle_text(f"/bulk status {early}", actor=OP, key="k3")).plain()
    assert "cancelled" in text and "0 of 4 rows paid before the cancel" in text and "100%" not in text, text

    bid = batch_id_of(await engine.bulk_upload(OP, "k4", "b.csv", payout_csv(10, amount="0.25")))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k5")
    await settle._send_and_record(engine.services, bid, await settle._claim_and_sign(engine.services, bid, 1))
    await engine.handle_text(f"/bulk cancel {bid}", actor=OP, key="k6")
    during = await engine.handle_text(f"/bulk status {bid}", actor=OP, key="k7")
    assert "cancelling" in during.plain() and "4 of 10 rows paid so far" in during.plain(), during.plain()
    assert not during.buttons  # nothing left to cancel
    await settle.work(engine.services, bid, -1)
    assert db.store.batches[bid].status is BatchStatus.DONE
    status = await engine.handle_text(f"/bulk status {bid}", actor=OP, key="k8")
    text = status.plain()
    assert f"{bid}  cancelled" in text and "4 of 10 rows paid before the cancel" in text and "6 not sent" in text, text
    assert "100%" not in text and "█" not in text
    last_progress = [n for n in db.store.outbox if n.type is NotificationType.BATCH_PROGRESS][-1]
    progress = loads(last_progress.body).plain()
    assert "Cancelled bulk payout" in progress and "4 of 10 rows paid before the cancel" in progress and "100%" not in progress
    summary = loads(db.store.outbox[-1].body).plain()
    assert f"{bid} cancelled" in summary and "Paid: 4 of 10 rows" in summary


async def test_the_finish_pages_through_the_rows_and_the_report_still_has_every_row_in_file_order(world, monkeypatch):
    engine, chain, db, clock, queue = world
    monkeypatch.setattr(settle, "_FINISH_PAGE", 3)  # our own page size: 10 rows are read in 4 pages
    bid = batch_id_of(await engine.bulk_upload(OP, "k1", "pay.csv", payout_csv(10)))
    await engine.handle_text(f"/bulk execute {bid}", actor=OP, key="k2")
    await run_jobs(engine, queue)
    done = loads(db.store.outbox[-1].body)
    assert "Paid: 10 of 10 rows — 5 CRO" in done.plain(), done.plain()
    report = list(csv.reader(io.StringIO(done.files[0].content.decode("utf-8-sig"))))
    assert [r[0] for r in report[1:]] == [str(line) for line in range(2, 12)] and {r[5] for r in report[1:]} == {"paid"}
