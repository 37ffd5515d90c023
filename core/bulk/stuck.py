"""Bulk chunks that did not go through at once: taken over after their lease, fee-bumped, or opened again.

A chunk's rows are paid at most once whatever happens here: each row has its bit in the contract's bitmap, so a
replacement, a re-signing under a new nonce or an old transaction mined after all can only pay a row once.
"""

from __future__ import annotations

from core.bulk.model import BatchRow, Chunk, ChunkStatus, RowStatus
from core.errors import ChainRejected
from core.model import Receipt
from core.ports import PaymentOrder
from core.services import Services, log


def order_of(s: Services, row: BatchRow) -> PaymentOrder:
    return PaymentOrder(row.intent_hash, row.recipient, s.token(row.token), row.amount, row_id=row.row_id)


async def take_stale(s: Services, batch_id: str, most: int) -> list[Chunk]:
    """Signed chunks nobody has touched for a lease: their worker may be dead, or their transaction stuck.
    Take them over (renewing the lease) and move each on: mined -> recorded; its nonce spent by another
    transaction -> re-opened, to be signed again; held by the node at a fee below what the next block asks
    (stuck) -> replaced with the same nonce and a higher fee, as reconcile does for single payments; otherwise
    (waiting its turn, never sent, or dropped) -> sent again as it is. Returns the chunks to send."""
    now = s.clock.now()
    async with s.uow() as uow:
        stale = (await uow.batches.stale_chunks(batch_id, now - s.bulk.lease))[:most]
        for chunk in stale:
            chunk.signed_at = now  # renew the lease, so other workers leave it alone meanwhile
            await uow.batches.save_chunk(chunk)
        await uow.commit()
    if not stale:
        return []
    log.info("bulk %s: taking over chunks %s", batch_id, [c.index for c in stale])
    chain = s.chain
    mined_next = await chain.mined_nonce()  # before the receipts: a nonce below it will never take another tx
    ready: list[Chunk] = []
    for chunk in stale:
        tx_hash = chunk.tx_hash or ""
        if await chain.receipt(tx_hash) is not None:
            ready.append(chunk)  # mined: sending it again is harmless, then it is recorded
        elif chunk.nonce is not None and chunk.nonce < mined_next:
            await reopen(s, chunk, "its nonce was used by another transaction")
        elif await chain.stuck(tx_hash):
            if (bumped := await bump(s, chunk)) is not None:
                ready.append(bumped)
        else:
            ready.append(chunk)  # the node never had it (its worker died first) or dropped it: send it again
    return ready


def underpriced(why: ChainRejected) -> bool:
    text = why.message.lower()
    return "underpriced" in text or "higher fee" in text or "base fee" in text


def out_of_gas(receipt: Receipt) -> bool:
    return not receipt.ok and "out of gas" in (receipt.reason or "")


async def bump(s: Services, chunk: Chunk) -> Chunk | None:
    """Replace the chunk's transaction: the same rows, the same nonce, a fee one step higher per signing so
    far (+12.5% or more each). Whichever of the two is mined, the other cannot be (one nonce), and the
    contract pays each row at most once. Returns the chunk to send, or None if another worker moved it on."""
    async with s.uow() as uow:
        current = await uow.batches.chunk(chunk.batch_id, chunk.index, for_update=True)
        if current is None or current.status is not ChunkStatus.SIGNED or current.tx_hash != chunk.tx_hash \
                or current.nonce is None:
            return None
        rows = [r for r in await uow.batches.rows(chunk.batch_id, chunk=chunk.index) if r.status is RowStatus.PENDING]
        try:
            tx = await s.chain.sign_batch([order_of(s, r) for r in rows], current.nonce, bump=max(1, current.attempts))
        except ChainRejected as e:  # the stuck transaction stays as it is (it may still be mined)
            log.warning("bulk %s chunk %s: could not raise its fee: %s", chunk.batch_id, chunk.index, e.message)
            return current
        current.raw_tx = tx.raw
        current.signed(tx.tx_hash)
        current.signed_at, current.attempts = s.clock.now(), current.attempts + 1
        await uow.batches.save_chunk(current)
        await uow.commit()
    log.info("bulk %s chunk %s: fee raised with the same nonce %s (signing %s)", chunk.batch_id, chunk.index,
             current.nonce, current.attempts)
    return current


async def reopen(s: Services, chunk: Chunk, why: str, receipt: Receipt | None = None) -> None:
    """This transaction will never pay the chunk's rows (it reverted whole, or its nonce went elsewhere):
    open the chunk again, unsigned, so any worker signs its pending rows under a new nonce. Rows an earlier
    transaction paid are then skipped by the contract and recorded as paid."""
    async with s.uow() as uow:
        current = await uow.batches.chunk(chunk.batch_id, chunk.index, for_update=True)
        batch = await uow.batches.get(chunk.batch_id, for_update=True)  # after the chunk's lock, as everywhere
        if batch is None or current is None or current.status is not ChunkStatus.SIGNED \
                or current.tx_hash != chunk.tx_hash:
            return
        current.status, current.error = ChunkStatus.OPEN, why
        current.nonce = current.raw_tx = current.tx_hash = current.signed_at = None
        if receipt is not None:  # a reverted transaction still paid for its gas
            batch.fees += receipt.fee
            batch.gas_used += receipt.gas_used
            await uow.batches.save(batch)
        await uow.batches.save_chunk(current)
        await uow.commit()
    log.warning("bulk %s chunk %s opened again: %s", chunk.batch_id, chunk.index, why)
