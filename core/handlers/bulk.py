"""/bulk: upload a payout file (attachment or console path), preview it, execute, follow, cancel, retry."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.bulk.file import MAX_SHELL_BYTES, check_file
from core.bulk.people import resolve_people
from core.bulk.model import Batch, BatchRow, BatchStatus, ChunkStatus, RowStatus
from core.bulk.settle import enqueue, plan_chunks
from core.bulk import rowids, views
from core.commands import Actor, Bulk, BulkUpload
from core.errors import ChainUnavailable, NotAllowed, UserError
from core.jobs import Job
from core.money import format_units
from core.bulk import gate
from core.payments import allowance, approvals, limits, subjects
from core.roles import role_of
from core.ports import UnitOfWork
from core.replies import Button, Reply, Span, code
from core.services import Services, new_id
from core.views import counted, estimated_fee

EXECUTE_REFUSAL = "Only operators may execute a bulk payout. Ask an operator of this bot to execute it."


async def handle(s: Services, cmd: Bulk) -> Reply:
    if isinstance(cmd, BulkUpload):
        return await upload(s, cmd)
    if cmd.action == "upload":
        return await upload_path(s, cmd)
    action = {"preview": preview, "execute": execute, "status": status, "cancel": cancel, "retry": retry}[cmd.action]
    return await action(s, cmd)


async def upload_path(s: Services, cmd: Bulk) -> Reply:
    """`/bulk upload PATH` reads a file of this machine, so only the console (its own operator) may use it."""
    if cmd.actor.platform != "console":
        raise UserError("Send the CSV or JSON file as an attachment with the caption /bulk.")
    if not cmd.path:
        raise UserError("file: give the path of a CSV or JSON file: /bulk upload payouts.csv", field="path")
    path = Path(cmd.path).expanduser()
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as e:
        raise UserError(f"file: cannot read {cmd.path}: {e.strerror or e}", field="path") from None
    return await upload(s, BulkUpload(cmd.actor, cmd.key, "upload", filename=path.name, data=data))


async def upload(s: Services, cmd: BulkUpload) -> Reply:
    """Check the file. An operator's valid file is stored as a batch waiting for Execute, and previewed; anyone
    else gets the check only, and nothing is stored. Every upload counts against the sender's limits first."""
    tokens = s.chain.tokens
    operator = s.policy.is_operator(cmd.actor)
    await _count_file(s, cmd.actor)
    checked = await asyncio.to_thread(check_file, cmd.data, tokens, filename=cmd.filename, **_limits(s, cmd))
    checked = await resolve_people(s, cmd.actor, checked)  # @handles and mentions -> linked wallets, or errors
    name = _safe_name(cmd.filename)
    if not (operator and checked.executable):
        async with s.uow() as uow:
            await _count_rows(s, uow, cmd.actor, checked.rows if checked.readable else 0)
            await uow.commit()
        return views.invalid_preview(name, checked) if not checked.executable else views.checked_only(name, checked, tokens)
    now = s.clock.now()
    batch = Batch(
        id=new_id("bulk"), key=cmd.key, actor_ref=cmd.actor.ref, filename=name, content_hash=checked.content_hash,
        format=checked.format, rows=len(checked.valid), totals=dict(checked.totals), created_at=now, updated_at=now,
        duplicates=len(checked.duplicates),
    )
    rows = [
        BatchRow(batch.id, i, r.line, r.recipient, r.token, r.amount, "0x" + secrets.token_hex(32), r.memo)
        for i, r in enumerate(checked.valid)
    ]
    async with s.uow() as uow:
        await _count_rows(s, uow, cmd.actor, checked.rows)
        earlier = await uow.batches.with_hash(checked.content_hash)
        batch.repeat_of = earlier[0].id if earlier else None
        await uow.batches.add(batch, rows)
        await uow.commit()
    shortfalls, fee_text = await _money_check(s, batch)
    try:
        capped = tuple(await allowance.shortfalls(s, batch.totals, outcome="Execute will refuse it until then"))
    except ChainUnavailable:
        capped = ()  # Execute reads it again, and refuses without it
    recipients = len({(r.recipient, r.token) for r in rows})
    return views.preview(batch, checked, tokens, recipients=recipients, fee_text=fee_text, shortfalls=shortfalls,
                         allowance=capped)


def _limits(s: Services, cmd: BulkUpload) -> dict[str, int]:
    """BULK_MAX_ROWS in chat; `snowrail bulk run` (the shell, no platform limits) sets its own."""
    if cmd.max_rows is not None:
        return {"max_rows": cmd.max_rows, "max_bytes": MAX_SHELL_BYTES}
    return {"max_rows": s.bulk.max_rows}


def _windows(s: Services) -> tuple[datetime, datetime]:
    """The start of this hour and of this UTC day: the windows upload limits are counted in."""
    now = s.clock.now().astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    return hour, hour.replace(hour=0)


async def _count_file(s: Services, actor: Actor) -> None:
    """Count one more file this hour, before reading it; NotAllowed (and nothing counted) past a limit."""
    policy = s.bulk
    hour, day = _windows(s)
    async with s.uow() as uow:
        files, _ = await uow.uploads.add(actor.ref, "hour", hour, files=1)
        if policy.uploads_per_hour and files > policy.uploads_per_hour:
            raise NotAllowed(f"Upload limit: at most {counted(policy.uploads_per_hour, 'file')} per hour per person, "
                             f"and this hour's are used up. Send it again after {hour + timedelta(hours=1):%H:%M} UTC.")
        _, rows = await uow.uploads.add(actor.ref, "day", day)
        if policy.rows_per_day and rows >= policy.rows_per_day:
            raise NotAllowed(f"Upload limit: at most {counted(policy.rows_per_day, 'row')} per day per person, and "
                             f"today's are used up. Send it again after 00:00 UTC.")
        await uow.commit()


async def _count_rows(s: Services, uow: UnitOfWork, actor: Actor, n: int) -> None:
    """Count the rows of a file just read against today (in the caller's transaction); NotAllowed past the limit."""
    policy = s.bulk
    _, rows = await uow.uploads.add(actor.ref, "day", _windows(s)[1], rows=n)
    if policy.rows_per_day and rows > policy.rows_per_day:
        left = max(policy.rows_per_day - (rows - n), 0)
        raise NotAllowed(f"Upload limit: at most {counted(policy.rows_per_day, 'row')} per day per person; this file "
                         f"has {counted(n, 'row')} and you have {counted(left, 'row')} left today (the count restarts "
                         "at 00:00 UTC). Nothing was stored.")


def _safe_name(filename: str) -> str:
    base = (filename or "payouts").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return "".join(c for c in base if c.isprintable())[:100] or "payouts"


async def _money_check(s: Services, batch: Batch, *, strict: bool = False) -> tuple[dict[str, tuple[int, int]] | None, str]:
    """Shortfalls per token (held, needed) and the estimated fee, both from the chain right now. With the
    node away: (None, why), or ChainUnavailable when `strict` (executing needs the real balances)."""
    policy = s.bulk
    chain = s.chain
    shortfalls: dict[str, tuple[int, int]] = {}
    try:
        for symbol, needed in batch.totals.items():
            held = await chain.balance(chain.treasury, s.token(symbol))
            async with s.uow() as uow:  # what payments and batches already on their way will take from it
                held -= await uow.intents.in_flight(symbol) + await uow.batches.committed(symbol)
            if held < needed:
                shortfalls[symbol] = (max(held, 0), needed)
        chunks = -(-batch.rows // policy.chunk_size)
        gas = batch.rows * policy.gas_per_payout + chunks * policy.gas_per_chunk
        price = await chain.fee_per_gas()
    except ChainUnavailable:
        if strict:
            raise
        return None, "unknown right now (the chain node is not answering)"
    return shortfalls, f"{estimated_fee(s.chain.tokens, gas, price)} ({counted(chunks, 'transaction')}, ~{gas:,} gas)"


async def _get(s: Services, batch_id: str | None) -> Batch:
    async with s.uow() as uow:
        batch = await uow.batches.get(batch_id or "")
    if batch is None:
        raise UserError(f"id: no bulk payout {batch_id} was found; upload a file with /bulk to start one.", field="id")
    return batch


async def preview(s: Services, cmd: Bulk) -> Reply:
    batch = await _get(s, cmd.batch_id)
    may_approve = (await role_of(s, cmd.actor)).may_approve
    if batch.actor_ref != cmd.actor.ref and not s.policy.is_operator(cmd.actor) and not may_approve:
        # Someone else's payroll: answer exactly as for an unknown id.
        raise UserError(f"id: no bulk payout {cmd.batch_id} was found; upload a file with /bulk to start one.", field="id")
    async with s.uow() as uow:
        rows = await uow.batches.rows(batch.id)
    if batch.status is BatchStatus.AWAITING and may_approve and batch.actor_ref != cmd.actor.ref:
        return gate.rows_for_approvers(s, batch, rows)  # what an approver decides on: every row
    return views.status(batch, len(rows), s.chain.tokens)


async def status(s: Services, cmd: Bulk) -> Reply:
    return await preview(s, cmd)


async def execute(s: Services, cmd: Bulk) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(EXECUTE_REFUSAL)
    batch = await _get(s, cmd.batch_id)
    if batch.status is BatchStatus.AWAITING:
        raise UserError(f"{batch.id} is awaiting approval; it starts by itself when approved (/pending shows it).")
    if batch.status is not BatchStatus.PREVIEW:
        raise UserError(f"{batch.id} is {batch.status.value}; only a previewed batch can be executed (/bulk status {batch.id}).")
    if batch.needs_warning and batch.warned_at is None:
        return await _warn(s, batch)
    shortfalls, _ = await _money_check(s, batch, strict=True)
    if shortfalls:
        sym, (held, needed) = next(iter(shortfalls.items()))
        d = s.token(sym).decimals
        raise UserError(f"balance: the treasury can spend {format_units(held, d)} {sym} (after payments already on their way); this batch needs "
                        f"{format_units(needed, d)} {sym}. Nothing was paid.", field="balance")
    capped = await allowance.shortfalls(s, batch.totals)
    if capped:
        raise UserError(capped[0], field="allowance")
    now = s.clock.now()
    async with s.uow() as uow:
        batch = await uow.batches.get(batch.id, for_update=True) or batch
        if batch.status is not BatchStatus.PREVIEW:
            raise UserError(f"{batch.id} is already {views.state(batch)}.")
        over = await limits.over_daily(s, uow, cmd.actor, batch.totals)  # holds the operator's spend lock
        if over is not None or any(approvals.needs_approval(s, t, u) for t, u in batch.totals.items()):
            rows = await uow.batches.rows(batch.id)
            waiting = await approvals.request(s, uow, cmd.actor, subjects.of_batch(s, batch), gate.ask(s, batch, rows), over)
            batch.move(BatchStatus.AWAITING, now)
            batch.started_at = now  # when it was asked for: its rows count against the daily limit from now
            await uow.batches.save(batch)
            await uow.commit()
            s.notify_soon()
            return waiting
        chunks = await gate.start(s, uow, batch, now)
        await uow.commit()
    queued = enqueue(s, batch.id, chunks)
    return Reply.of(
        (f"Executing bulk payout ", code(batch.id), f": {counted(batch.rows, 'payout')} in {counted(len(chunks), 'transaction')}."),
        "I will keep one progress message up to date and send you the report when it is done."
        if queued else "The job queue is not answering right now; the batch is saved and starts when a worker is back.",
        buttons=(Button("Status", f"/bulk status {batch.id}"), Button("Cancel the rest", f"/bulk cancel {batch.id}", "danger")),
    )


async def _warn(s: Services, batch: Batch) -> Reply:
    """Duplicates or a repeated file: say so and ask for Execute once more (the explicit confirmation)."""
    async with s.uow() as uow:
        current = await uow.batches.get(batch.id, for_update=True) or batch
        current.warned_at = s.clock.now()
        await uow.batches.save(current)
        await uow.commit()
    lines: list[tuple[str | Span, ...]] = [("Please confirm before anything is paid:",)]
    if batch.duplicates:
        lines.append((f"• {counted(batch.duplicates, 'recipient')} {'appears' if batch.duplicates == 1 else 'appear'} more than once "
                      "with the same token, and would be paid once per row.",))
    if batch.repeat_of:
        lines.append(("• This is the same file as ", code(batch.repeat_of), "; it may have been paid already."))
    lines.append(("Press Execute again (or send ", code(f"/bulk execute {batch.id}"), ") to pay every row anyway."))
    return Reply.of(*lines, buttons=(Button("Execute anyway", f"/bulk execute {batch.id}", "danger"),
                                     Button("Cancel", f"/bulk cancel {batch.id}")))


async def cancel(s: Services, cmd: Bulk) -> Reply:
    batch = await _get(s, cmd.batch_id)
    if batch.actor_ref != cmd.actor.ref and not s.policy.is_operator(cmd.actor):
        raise NotAllowed("Only the person who uploaded the file, or an operator, may cancel it.")
    now = s.clock.now()
    async with s.uow() as uow:
        batch = await uow.batches.get(batch.id, for_update=True) or batch
        if batch.status in (BatchStatus.PREVIEW, BatchStatus.AWAITING):
            held = await approvals.hold_on(uow, batch.id, cancelling=True)  # withdraws a waiting approval request
            if held is not None:
                raise UserError(f"{batch.id} cannot be cancelled: {held}.")
            await gate.call_off(uow, batch, now)
            await uow.commit()
            return Reply.of(("Cancelled ", code(batch.id), ". Nothing was paid."))
        if batch.status is not BatchStatus.RUNNING:
            raise UserError(f"{batch.id} is {batch.status.value}; there is nothing left to cancel.")
        stopped = 0
        for chunk in await uow.batches.claim_open_chunks(batch.id, batch.rows + 1):
            rows = [r for r in await uow.batches.rows(batch.id, chunk=chunk.index) if r.status is RowStatus.PENDING]
            for r in rows:
                r.status = RowStatus.CANCELLED
            chunk.status = ChunkStatus.CANCELLED
            stopped += len(rows)
            await uow.batches.save_rows(rows)
            await uow.batches.save_chunk(chunk)
        batch.cancelled += stopped
        await uow.batches.save(batch)
        await uow.commit()
    if s.queue is not None:
        try:
            s.queue.enqueue(Job.BULK_SETTLE, batch.id, -1, job_id=None)  # someone closes the batch and sends the report
        except Exception:  # noqa: BLE001 - running jobs close it anyway; resume() does when none runs
            pass
    return Reply.of(("Stopped ", code(batch.id), f": {counted(stopped, 'payout')} not yet sent {'is' if stopped == 1 else 'are'} cancelled; "
                     "transactions already sent will still settle, and the report follows."))


async def retry(s: Services, cmd: Bulk) -> Reply:
    if not s.policy.is_operator(cmd.actor):
        raise NotAllowed(EXECUTE_REFUSAL)
    batch = await _get(s, cmd.batch_id)
    if batch.status is not BatchStatus.DONE or not batch.failed:
        raise UserError(f"{batch.id} is {batch.status.value} with {counted(batch.failed, 'failed row')}; only a finished batch "
                        "with failed rows can be retried.")
    now = s.clock.now()
    async with s.uow() as uow:
        batch = await uow.batches.get(batch.id, for_update=True) or batch
        if batch.status is not BatchStatus.DONE:
            raise UserError(f"{batch.id} is already {batch.status.value}.")
        failed = await uow.batches.rows(batch.id, status=RowStatus.FAILED)
        first = len(await uow.batches.chunks(batch.id))
        # Rows whose id another batch had used on chain were never paid: they need ids of their own. Every other
        # failed row keeps its id, so the contract still pays it at most once whatever happened before.
        await rowids.number(s, uow, [r for r in failed if r.error == rowids.COLLISION])
        for r in failed:
            r.status, r.error, r.tx_hash = RowStatus.PENDING, None, None
        batch.round += 1
        chunks = plan_chunks(batch, failed, s.bulk.chunk_size, first)
        batch.failed -= len(failed)
        batch.move(BatchStatus.RUNNING, now)
        batch.started_at, batch.finished_at = now, None
        await uow.batches.save_rows(failed)
        await uow.batches.add_chunks(chunks)
        await uow.batches.save(batch)
        await uow.commit()
    enqueue(s, batch.id, chunks)
    return Reply.of(("Retrying ", code(batch.id), f": {counted(len(failed), 'failed payout')} in {counted(len(chunks), 'transaction')}."))


__all__ = ["BulkUpload", "handle", "upload"]
