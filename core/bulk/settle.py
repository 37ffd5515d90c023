"""Settling a confirmed batch: workers claim chunks, sign them under reserved nonces, persist, send, record receipts."""

from __future__ import annotations

import asyncio
import time

from core.alerts import check_balances
from core.bulk import rowids
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk, ChunkStatus, RowStatus
from core.bulk.stuck import bump, order_of, out_of_gas, reopen, take_stale, underpriced
from core.bulk.views import Summary, progress
from core.errors import ChainRejected, TransientError
from core.jobs import Job
from core.model import Notification, NotificationType, Receipt
from core.notifications import Received
from core.ports import SignedTx, UnitOfWork
from core.replies import dumps
from core.services import Services, log

_FINISH_PAGE = 5_000  # rows read at a time when a batch finishes (its report and its recipients' DMs)


def job_id(batch_id: str, index: int) -> str:
    return f"bulk-{batch_id}-{index}"


# ---------------------------------------------------------------- starting
def plan_chunks(batch: Batch, rows: list[BatchRow], size: int, first_index: int) -> list[Chunk]:
    """Give each pending row a chunk index, in file order; returns the new chunks."""
    chunks: list[Chunk] = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        index = first_index + len(chunks)
        for r in part:
            r.chunk = index
        chunks.append(Chunk(batch.id, index, batch.round, len(part)))
    return chunks


def enqueue(s: Services, batch_id: str, chunks: list[Chunk]) -> bool:
    """One job per parallel slot, named after the chunk it starts with; each then claims whatever is open.
    False when the queue is unreachable: the batch is stored as running, and resume() picks it up later."""
    if s.queue is None:
        return True
    try:
        for chunk in chunks[: s.bulk.parallel_jobs]:
            s.queue.enqueue(Job.BULK_SETTLE, batch_id, chunk.index, job_id=job_id(batch_id, chunk.index))
    except Exception:  # the queue's own connection errors; nothing is lost, the batch waits in the database
        log.warning("bulk %s: could not enqueue its jobs; a worker resumes it when it starts", batch_id, exc_info=True)
        return False
    return True


def _notify_soon(s: Services) -> None:
    try:
        s.notify_soon()
    except Exception:  # the outbox row is committed; a later delivery run sends it
        log.warning("could not enqueue notification delivery", exc_info=True)


async def resume(s: Services) -> list[str]:
    """After a restart: enqueue work for every running batch (duplicate jobs find nothing to claim)."""
    async with s.uow() as uow:
        running = await uow.batches.running()
    for batch in running:
        if s.queue is not None:
            for slot in range(s.bulk.parallel_jobs):
                s.queue.enqueue(Job.BULK_SETTLE, batch.id, -1 - slot, job_id=None)
    return [b.id for b in running]


# ---------------------------------------------------------------- the job
async def work(s: Services, batch_id: str, index: int = 0) -> int:
    """Settle chunks of the batch until none is left; returns how many this call settled.
    Safe to run in any number of processes at once, and to kill at any instant. `lanes` loops claim, sign
    and send chunks; each sent group is then waited for and recorded by a task of its own, so sending never
    waits for a receipt. Up to `depth` chunks of this job are sent and not yet recorded at any time."""
    room = asyncio.Semaphore(max(1, s.bulk.depth))
    recording: set[asyncio.Task[int]] = set()
    try:
        sent = await asyncio.gather(*(_lane(s, batch_id, room, recording) for _ in range(max(1, s.bulk.lanes))))
    finally:
        recorded = await asyncio.gather(*recording, return_exceptions=True)
    for r in recorded:
        if isinstance(r, BaseException):
            raise r
    return sum(sent) + sum(r for r in recorded if isinstance(r, int))


async def _lane(s: Services, batch_id: str, room: asyncio.Semaphore, recording: set[asyncio.Task[int]]) -> int:
    policy = s.bulk
    idle_since = time.monotonic()
    outage_since: float | None = None
    while True:
        held = 0
        try:
            for _ in range(max(1, policy.in_flight)):
                await room.acquire()
                held += 1
            group = await _claim_and_sign(s, batch_id, held)
            if not group:
                group = await take_stale(s, batch_id, held)
            if not group:
                if await _finish_if_complete(s, batch_id):
                    return 0
                if time.monotonic() - idle_since > policy.idle_limit:
                    raise TransientError(f"batch {batch_id} has chunks nobody settled for a while", service="chain")
                await asyncio.sleep(0.2)
                continue
            waiting = await _send(s, group)
            task = asyncio.create_task(_record_sent(s, batch_id, waiting, room, held))
            held = 0  # the task gives the room back once its chunks are recorded
            recording.add(task)  # kept to the end of the job, which raises what any of them raised
            idle_since, outage_since = time.monotonic(), None
        except TransientError as e:
            # The node or the database is away: everything done so far is committed, so wait and carry on.
            # Past `outage_limit` the job fails, and RQ's retries (or resume() at a worker's start) take over.
            outage_since = outage_since or time.monotonic()
            waited = time.monotonic() - outage_since
            if waited > policy.outage_limit or "nobody settled" in e.message:
                raise
            log.warning("bulk %s: %s unavailable (%s); waiting", batch_id, e.service, e.message)
            await asyncio.sleep(min(0.2 * 2 ** min(int(waited), 5), 5.0))
        finally:
            for _ in range(held):
                room.release()


async def _claim_and_sign(s: Services, batch_id: str, most: int) -> list[Chunk]:
    """Claim up to `most` open chunks, prepare them (refusals show here), reserve consecutive nonces, sign them,
    and store the signed bytes: all in one transaction, committed before anything is broadcast."""
    chain = s.chain
    floor = await chain.pending_nonce()
    async with s.uow() as uow:
        batch = await uow.batches.get(batch_id)
        if batch is None or batch.status is not BatchStatus.RUNNING:
            return []
        claimed = await uow.batches.claim_open_chunks(batch_id, most)
        if not claimed:
            return []
        orders = []
        for chunk in claimed:
            rows = await uow.batches.rows(batch_id, chunk=chunk.index)
            orders.append([order_of(s, r) for r in rows if r.status is RowStatus.PENDING])
        # The slow part of signing (simulation, gas estimate, the EIP-712 authorisation) happens before the nonce
        # lock: one signer at a time holds it, across every worker, so its length bounds the whole pipeline.
        results: list[object] = await asyncio.gather(*(chain.prepare_batch(o) for o in orders), return_exceptions=True)
        if not any(isinstance(r, BaseException) for r in results):
            nonces = [await uow.nonces.reserve(chain.chain_id, chain.executor, floor) for _ in claimed]
            results = await asyncio.gather(*(chain.sign_batch(o, n) for o, n in zip(orders, nonces)),
                                           return_exceptions=True)
        refused = [(chunk, r) for chunk, r in zip(claimed, results) if isinstance(r, ChainRejected)]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, ChainRejected):
                raise r  # the node or the database is away: nothing was stored, the chunks stay open
        if refused:
            # Fail only the chunks the chain refused, each with its own reason. The others are released
            # unsigned (their nonces too, or the refused one's would leave a gap) and claimed again next turn.
            await uow.rollback()
            for chunk, why in refused:
                await _refuse(s, batch_id, chunk.index, why.message)
            return []
        signed = [r for r in results if isinstance(r, SignedTx)]  # every one, after the checks above
        now = s.clock.now()
        for chunk, tx in zip(claimed, signed):
            chunk.status, chunk.nonce, chunk.raw_tx = ChunkStatus.SIGNED, tx.nonce, tx.raw
            chunk.signed(tx.tx_hash)
            chunk.signed_at, chunk.attempts = now, chunk.attempts + 1
            await uow.batches.save_chunk(chunk)
        await uow.commit()
    return claimed


async def _refuse(s: Services, batch_id: str, index: int, reason: str) -> None:
    """The chain refused to even simulate a chunk (a batch-wide problem): its rows fail with the reason."""
    log.warning("bulk %s chunk %s refused: %s", batch_id, index, reason)
    async with s.uow() as uow:  # the chunk's lock before the batch's, as everywhere (one order: no deadlock)
        chunk = await uow.batches.chunk(batch_id, index, for_update=True)
        batch = await uow.batches.get(batch_id, for_update=True)
        if batch is None or chunk is None or chunk.status is not ChunkStatus.OPEN:
            return
        rows = [r for r in await uow.batches.rows(batch_id, chunk=index) if r.status is RowStatus.PENDING]
        for r in rows:
            r.status, r.error = RowStatus.FAILED, reason
        chunk.status, chunk.error = ChunkStatus.DONE, reason
        batch.failed += len(rows)
        await uow.batches.save_rows(rows)
        await uow.batches.save_chunk(chunk)
        await _progress(s, uow, batch)
        await uow.commit()


async def _send_and_record(s: Services, batch_id: str, group: list[Chunk]) -> int:
    return await _record_sent(s, batch_id, await _send(s, group))


async def _send(s: Services, group: list[Chunk]) -> list[Chunk]:
    """Broadcast the group (one round trip); returns the chunks to wait for. A replacement the node finds
    underpriced is raised again at once, with a short backoff; a nonce spent elsewhere is signed under a new
    one (and sent after its lease); any other refusal leaves the chunk to be sent again after its lease."""
    chain = s.chain
    waiting: list[Chunk] = []
    sending = group
    for attempt in range(3):
        results = await chain.broadcast_many([c.raw_tx or b"" for c in sending])
        again: list[Chunk] = []
        for chunk, result in zip(sending, results):
            if not isinstance(result, ChainRejected) or await chain.receipt(chunk.tx_hash or "") is not None:
                waiting.append(chunk)
            elif underpriced(result):
                if (bumped := await bump(s, chunk)) is not None:
                    again.append(bumped)
            else:
                await _resign(s, chunk, result)
        if not again:
            break
        sending = again
        await asyncio.sleep(0.05 * 2**attempt)
    return waiting


async def _record_sent(s: Services, batch_id: str, waiting: list[Chunk], room: asyncio.Semaphore | None = None,
                       held: int = 0) -> int:
    """Wait for the chunks' receipts, give their `held` places in the `room` back (they left the node's pool:
    the lanes may send more while these are recorded), and record them; returns how many were recorded. A
    chunk that ran out of gas (its batch grew dearer after the estimate) paid nobody: it is opened again, to
    be signed with a fresh estimate, up to `max_attempts` signings. One not mined yet stays signed, looked at
    again after its lease."""
    try:
        receipts = await asyncio.gather(*(s.chain.wait_for_receipt(c.tx_hash or "", s.bulk.receipt_wait)
                                          for c in waiting))
        for _ in range(held):
            if room is not None:
                room.release()
        held = 0
        done = 0
        for chunk, receipt in zip(waiting, receipts):
            if receipt is None:
                continue
            if out_of_gas(receipt) and chunk.attempts < s.bulk.max_attempts:
                await reopen(s, chunk, receipt.reason or "out of gas", receipt)
                continue
            await _record(s, chunk, receipt)
            done += 1
        return done
    except TransientError as e:  # they stay signed: whoever finds them after their lease records them
        log.warning("bulk %s: could not record chunks (%s unavailable: %s)", batch_id, e.service, e.message)
        return 0
    finally:
        for _ in range(held):
            if room is not None:
                room.release()


async def _resign(s: Services, chunk: Chunk, why: ChainRejected) -> None:
    """The node refused the stored bytes. If their nonce went to another transaction, sign the same rows
    again under a new nonce (the contract pays each row id at most once, so this cannot pay twice);
    otherwise leave the chunk signed, to be sent again after its lease."""
    if "nonce" not in why.message.lower():
        log.warning("bulk %s chunk %s: node refused the transaction (%s); will resend", chunk.batch_id, chunk.index, why.message)
        return
    chain = s.chain
    floor = await chain.pending_nonce()
    async with s.uow() as uow:
        current = await uow.batches.chunk(chunk.batch_id, chunk.index, for_update=True)
        if current is None or current.status is not ChunkStatus.SIGNED or current.tx_hash != chunk.tx_hash:
            return
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
        nonce = await uow.nonces.reserve(chain.chain_id, chain.executor, floor)
        tx = await chain.sign_batch([order_of(s, r) for r in rows], nonce)
        current.nonce, current.raw_tx = tx.nonce, tx.raw
        current.signed(tx.tx_hash)
        current.signed_at, current.attempts = s.clock.now() - s.bulk.lease, current.attempts + 1
        await uow.batches.save_chunk(current)
        await uow.commit()
    log.warning("bulk %s chunk %s re-signed with nonce %s: %s", chunk.batch_id, chunk.index, nonce, why.message)


async def _record(s: Services, chunk: Chunk, receipt: Receipt) -> None:
    """Record a mined chunk: each row paid or failed with its reason, the batch's counters, progress."""
    chain = s.chain
    failed = dict(receipt.failed_rows)
    paid_now = receipt.paid_rows if receipt.ok else frozenset()
    async with s.uow() as uow:
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
    unclear = [r.row_id for r in rows if r.row_id is not None and r.row_id not in paid_now]
    # A refused row may have been paid by an earlier transaction of the same rows (a re-signed chunk, a
    # replaced one): the contract's bitmap says, and its RowsPaid event names the transaction that paid it. If
    # this batch never signed that transaction, another batch had used the row id (a database behind its
    # contract): the row was never paid, so it fails, and the admins hear of it.
    earlier = [i for i in unclear if await chain.is_row_paid(i)]
    paid_before = await chain.rows_paid_by(earlier) if earlier else {}
    async with s.uow() as uow:
        current = await uow.batches.chunk(chunk.batch_id, chunk.index, for_update=True)
        if current is None or current.status is not ChunkStatus.SIGNED:
            return  # another worker recorded it first
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
        foreign = await rowids.foreign_payers(uow, chunk.batch_id, paid_before, receipt.tx_hash)
        for r in rows:
            if r.row_id in paid_now:
                r.status, r.tx_hash, r.error = RowStatus.PAID, receipt.tx_hash, None
            elif r.row_id in foreign:
                r.status, r.tx_hash, r.error = RowStatus.FAILED, receipt.tx_hash, rowids.COLLISION
            elif r.row_id in earlier:  # the hash of the transaction that paid it (this one if its log is not found)
                r.status, r.tx_hash, r.error = RowStatus.PAID, paid_before.get(r.row_id, receipt.tx_hash), None
            else:
                r.status, r.tx_hash = RowStatus.FAILED, receipt.tx_hash
                r.error = (failed.get(r.row_id) if r.row_id is not None else None) or receipt.reason or \
                    "the transaction reverted"
        current.status, current.tx_hash = ChunkStatus.DONE, receipt.tx_hash
        current.fee, current.gas_used, current.block_number = receipt.fee, receipt.gas_used, receipt.block_number
        await uow.batches.save_rows(rows)
        await uow.batches.save_chunk(current)
        # The batch's row last, and only for its counters: every worker's records queue on its lock.
        batch = await uow.batches.get(chunk.batch_id, for_update=True)
        if batch is None:
            return
        batch.paid += sum(r.status is RowStatus.PAID for r in rows)
        batch.failed += sum(r.status is RowStatus.FAILED for r in rows)
        batch.fees += receipt.fee
        batch.gas_used += receipt.gas_used
        wrote = await _progress(s, uow, batch)
        if foreign:  # in this transaction: the rows' failure and its alert commit together
            await rowids.alert_collision(s, uow, chunk, receipt.tx_hash, foreign)
            wrote = True
        await uow.commit()
    for status in (RowStatus.PAID, RowStatus.FAILED):
        s.metrics.bulk_rows(status.value, sum(r.status is status for r in rows))
    if wrote:
        _notify_soon(s)  # one delivery job per progress update, not one per chunk
    if receipt.ok:  # LOW_BALANCE_ALERT: the tokens this transaction paid out, and the executor's gas
        await check_balances(s, [s.token(sym) for sym in sorted({r.token for r in rows})])


async def _progress(s: Services, uow: UnitOfWork, batch: Batch, *, force: bool = False) -> bool:
    """Save the batch; write a progress update when the last one is at least `progress_every` old.
    Returns whether it wrote one."""
    now = s.clock.now()
    due = force or batch.progress_at is None or now - batch.progress_at >= s.bulk.progress_every
    if due:
        batch.progress_seq += 1
        batch.progress_at = now
        await uow.outbox.add(Notification(
            f"{batch.id}:progress:{batch.progress_seq}", batch.actor_ref, NotificationType.BATCH_PROGRESS,
            dumps(progress(batch, batch.rows)), now,
        ))
    await uow.batches.save(batch)
    return due


async def _finish_if_complete(s: Services, batch_id: str) -> bool:
    """True when the batch needs no more work; the first caller to see it complete sends the summary."""
    async with s.uow() as uow:
        batch = await uow.batches.get(batch_id)
        if batch is None or batch.status is not BatchStatus.RUNNING:
            return True
        chunks = await uow.batches.chunks(batch_id)
        if any(c.status in (ChunkStatus.OPEN, ChunkStatus.SIGNED) for c in chunks):
            return False
    async with s.uow() as uow:
        batch = await uow.batches.get(batch_id, for_update=True)
        if batch is None or batch.status is not BatchStatus.RUNNING:
            return True
        now = s.clock.now()
        batch.move(BatchStatus.DONE, now)
        batch.finished_at = now
        await _progress(s, uow, batch, force=True)
        # Page through the rows (file order), so a 100,000-row batch is never in memory at once.
        report = Summary(batch, s.chain.tokens)
        chunks = await uow.batches.chunks(batch_id)
        received = Received(batch, {c.index for c in chunks if c.round == batch.round})
        for first in range(0, batch.rows, _FINISH_PAGE):
            rows = await uow.batches.rows(batch_id, seqs=(first, first + _FINISH_PAGE))
            report.add(rows)
            await received.add(uow, rows)  # each linked recipient: one DM for this batch (round)
        body = dumps(report.reply())
        del report  # its text and its file: only the JSON body is needed from here
        await uow.outbox.add(Notification(f"{batch.id}:done:{batch.round}", batch.actor_ref,
                                          NotificationType.BATCH_COMPLETE, body, now))
        await received.queue(s, uow)
        await uow.commit()
    _notify_soon(s)
    log.info("bulk %s done: %s paid, %s failed", batch_id, batch.paid, batch.failed)
    return True
