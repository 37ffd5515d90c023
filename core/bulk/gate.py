"""Starting and calling off a bulk batch: shared by /bulk execute and cancel and by the approvals of a batch.

Both run inside the caller's unit of work, on a batch read with its row lock, so an Execute, a Cancel and the
k-th approval of the same batch are serialised by the database and exactly one of them moves it.
"""

from __future__ import annotations

from datetime import datetime

from core.bulk import rowids
from core.bulk.model import Batch, BatchRow, BatchStatus, Chunk, RowStatus
from core.bulk.settle import plan_chunks
from core.bulk.views import result_report, totals_text
from core.ports import UnitOfWork
from core.replies import Button, Reply, bold, code
from core.services import Services
from core.views import counted


async def start(s: Services, uow: UnitOfWork, batch: Batch, now: datetime) -> list[Chunk]:
    """Move a previewed (or approved) batch to running with its chunks planned; the caller commits, then
    enqueues the chunks (core.bulk.settle.enqueue)."""
    rows = await uow.batches.rows(batch.id)
    await rowids.ensure_unused(s, uow, rows)  # before anything is signed: ids the contract has not paid
    chunks = plan_chunks(batch, rows, s.bulk.chunk_size, 0)
    batch.move(BatchStatus.RUNNING, now)
    batch.started_at = now
    await uow.batches.save_rows(rows)
    await uow.batches.add_chunks(chunks)
    await uow.batches.save(batch)
    return chunks


async def call_off(uow: UnitOfWork, batch: Batch, now: datetime) -> int:
    """Cancel a batch nothing of which was sent (previewed, or awaiting approval): every row is cancelled.
    Returns how many rows."""
    rows = await uow.batches.rows(batch.id)
    for r in rows:
        r.status = RowStatus.CANCELLED
    batch.cancelled = len(rows)
    batch.move(BatchStatus.CANCELLED, now)
    await uow.batches.save_rows(rows)
    await uow.batches.save(batch)
    return len(rows)


def amount_text(s: Services, batch: Batch) -> str:
    """E.g. "1,200 USDC + 50 CRO in 30 payouts"."""
    return f"{totals_text(batch.totals, s.chain.tokens)} in {counted(batch.rows, 'payout')}"


def ask(s: Services, batch: Batch, rows: list[BatchRow]) -> Reply:
    """What an approver is shown of a batch: totals, how many people, the file, and a Preview button that
    sends them the batch's rows (/bulk preview)."""
    recipients = len({r.recipient.lower() for r in rows})
    return Reply.of(
        (bold("Approval needed"), ": bulk payout ", code(batch.id)),
        ("Amount: ", bold(amount_text(s, batch))),
        ("To: ", f"{counted(recipients, 'recipient')}, from the file ", code(batch.filename)),
        buttons=(Button("Preview", f"/bulk preview {batch.id}"),),
    )


def rows_for_approvers(s: Services, batch: Batch, rows: list[BatchRow]) -> Reply:
    """The preview an approver gets of a batch awaiting approval: the first rows, and every row attached."""
    shown = [(f"  line {r.line}  ", code(r.recipient), f"  {totals_text({r.token: r.amount}, s.chain.tokens)}"
              + (f"  {r.memo[:40]}" if r.memo else "")) for r in rows[:10]]
    more = f"…and {counted(len(rows) - 10, 'more row')}; every row is in the attached file." if len(rows) > 10 \
        else "Every row is also in the attached file."
    return Reply.of(
        (bold(f"Bulk payout {batch.id}"), f"  awaiting approval  ({batch.filename})"),
        ("Total: ", amount_text(s, batch)),
        *shown, more,
        buttons=(Button("Approve", f"/approve {batch.id}", "primary"), Button("Reject", f"/reject {batch.id}", "danger")),
        files=(result_report(batch, rows, s.chain.tokens),),
        private=True,
    )
