"""Settling a confirmed batch: workers claim chunks, sign them under reserved nonces, persist, send, record receipts."""

from __future__ import annotations

import asyncio
import time

from core.alerts import check_balances
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk, ChunkStatus, RowStatus
from core.bulk.views import progress, summary
from core.errors import ChainRejected, TransientError
from core.jobs import Job
from core.model import Notification, NotificationType, Receipt
from core.ports import PaymentOrder, SignedTx, UnitOfWork
from core.replies import dumps
from core.services import Services, log

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
    Safe to run in any number of processes at once, and to kill at any instant. Runs `lanes` loops side by
    side, so one worker process keeps several groups of chunks in flight while others are being recorded."""
    lanes = max(1, s.bulk.lanes)
    return sum(await asyncio.gather(*(_lane(s, batch_id) for _ in range(lanes))))


async def _lane(s: Services, batch_id: str) -> int:
    policy = s.bulk
    settled = 0
    idle_since = time.monotonic()
    outage_since: float | None = None
    while True:
        try:
            group = await _claim_and_sign(s, batch_id, policy.in_flight)
            if not group:
                group = await _take_stale(s, batch_id, policy.in_flight)
            if not group:
                if await _finish_if_complete(s, batch_id):
                    return settled
                if time.monotonic() - idle_since > policy.idle_limit:
                    raise TransientError(f"batch {batch_id} has chunks nobody settled for a while", service="chain")
                await asyncio.sleep(0.2)
                continue
            settled += await _send_and_record(s, batch_id, group)
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


async def _claim_and_sign(s: Services, batch_id: str, most: int) -> list[Chunk]:
    """Claim up to `most` open chunks, reserve consecutive nonces, sign them, and store the signed bytes:
    all in one transaction, committed before anything is broadcast."""
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
            orders.append([_order(s, r) for r in rows if r.status is RowStatus.PENDING])
        nonces = [await uow.nonces.reserve(chain.chain_id, chain.executor, floor) for _ in claimed]
        results = await asyncio.gather(*(chain.sign_batch(o, n) for o, n in zip(orders, nonces)), return_exceptions=True)
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
            chunk.status, chunk.nonce, chunk.raw_tx, chunk.tx_hash = ChunkStatus.SIGNED, tx.nonce, tx.raw, tx.tx_hash
            chunk.signed_at, chunk.attempts = now, chunk.attempts + 1
            await uow.batches.save_chunk(chunk)
        await uow.commit()
    return claimed


def _order(s: Services, row: BatchRow) -> PaymentOrder:
    return PaymentOrder(row.intent_hash, row.recipient, s.token(row.token), row.amount)


async def _refuse(s: Services, batch_id: str, index: int, reason: str) -> None:
    """The chain refused to even simulate a chunk (a batch-wide problem): its rows fail with the reason."""
    log.warning("bulk %s chunk %s refused: %s", batch_id, index, reason)
    async with s.uow() as uow:
        batch = await uow.batches.get(batch_id, for_update=True)
        chunk = await uow.batches.chunk(batch_id, index, for_update=True)
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


async def _take_stale(s: Services, batch_id: str, most: int) -> list[Chunk]:
    """Signed chunks nobody has touched for a lease (their worker may be dead): take them over."""
    now = s.clock.now()
    async with s.uow() as uow:
        stale = (await uow.batches.stale_chunks(batch_id, now - s.bulk.lease))[:most]
        for chunk in stale:
            chunk.signed_at = now  # renew the lease, so other workers leave it alone meanwhile
            await uow.batches.save_chunk(chunk)
        await uow.commit()
    if stale:
        log.info("bulk %s: taking over chunks %s", batch_id, [c.index for c in stale])
    return stale


async def _send_and_record(s: Services, batch_id: str, group: list[Chunk]) -> int:
    chain = s.chain
    results = await chain.broadcast_many([c.raw_tx or b"" for c in group])
    waiting: list[Chunk] = []
    for chunk, result in zip(group, results):
        if isinstance(result, ChainRejected):
            if await chain.receipt(chunk.tx_hash or "") is None:
                await _resign(s, chunk, result)
                continue
        waiting.append(chunk)
    wait = s.bulk.receipt_wait
    receipts = await asyncio.gather(*(chain.wait_for_receipt(c.tx_hash or "", wait) for c in waiting))
    done = 0
    for chunk, receipt in zip(waiting, receipts):
        if receipt is not None:
            await _record(s, chunk, receipt)
            done += 1
    return done


async def _resign(s: Services, chunk: Chunk, why: ChainRejected) -> None:
    """The node refused the stored bytes. If their nonce went to another transaction, sign the same rows
    again under a new nonce (the contract pays each intent hash at most once, so this cannot pay twice);
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
        tx = await chain.sign_batch([_order(s, r) for r in rows], nonce)
        current.nonce, current.raw_tx, current.tx_hash = tx.nonce, tx.raw, tx.tx_hash
        current.signed_at, current.attempts = s.clock.now() - s.bulk.lease, current.attempts + 1
        await uow.batches.save_chunk(current)
        await uow.commit()
    log.warning("bulk %s chunk %s re-signed with nonce %s: %s", chunk.batch_id, chunk.index, nonce, why.message)


async def _record(s: Services, chunk: Chunk, receipt: Receipt) -> None:
    """Record a mined chunk: each row paid or failed with its reason, the batch's counters, progress."""
    chain = s.chain
    failed = dict(receipt.failed)
    async with s.uow() as uow:
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
    unclear = [r.intent_hash for r in rows if not (receipt.ok and r.intent_hash in receipt.paid)]
    # A refused item may have been paid by an earlier transaction of the same rows: ask the contract.
    paid_before = {h for h in unclear if await chain.is_paid(h)}
    async with s.uow() as uow:
        batch = await uow.batches.get(chunk.batch_id, for_update=True)
        current = await uow.batches.chunk(chunk.batch_id, chunk.index, for_update=True)
        if batch is None or current is None or current.status is not ChunkStatus.SIGNED:
            return  # another worker recorded it first
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
        for r in rows:
            if (receipt.ok and r.intent_hash in receipt.paid) or r.intent_hash in paid_before:
                r.status, r.tx_hash, r.error = RowStatus.PAID, receipt.tx_hash, None
                batch.paid += 1
            else:
                r.status, r.tx_hash = RowStatus.FAILED, receipt.tx_hash
                r.error = failed.get(r.intent_hash) or receipt.reason or "the transaction reverted"
                batch.failed += 1
        current.status, current.tx_hash = ChunkStatus.DONE, receipt.tx_hash
        current.fee, current.gas_used, current.block_number = receipt.fee, receipt.gas_used, receipt.block_number
        batch.fees += receipt.fee
        batch.gas_used += receipt.gas_used
        await uow.batches.save_rows(rows)
        await uow.batches.save_chunk(current)
        wrote = await _progress(s, uow, batch)
        await uow.commit()
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
        rows = await uow.batches.rows(batch_id)
        now = s.clock.now()
        batch.move(BatchStatus.DONE, now)
        batch.finished_at = now
        await _progress(s, uow, batch, force=True)
        body = summary(batch, rows, s.chain.tokens)
        await uow.outbox.add(Notification(f"{batch.id}:done:{batch.round}", batch.actor_ref,
                                          NotificationType.BATCH_COMPLETE, dumps(body), now))
        await uow.commit()
    _notify_soon(s)
    log.info("bulk %s done: %s paid, %s failed", batch_id, batch.paid, batch.failed)
    return True
