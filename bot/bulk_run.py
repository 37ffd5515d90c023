"""`snowrail bulk run FILE --as PLATFORM:ID`: a payout file too large for chat, uploaded and executed through the
engine's own commands (so roles, limits, approvals, the audit log and the workers all apply), with progress."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from pathlib import Path

from bot.bootstrap import App, build
from bot.settings import Settings
from core.bulk.file import MAX_SHELL_ROWS
from core.bulk.model import BatchStatus
from core.commands import Actor, Bulk, BulkUpload
from core.replies import Reply
from core.roles import role_of

_FINAL = (BatchStatus.DONE, BatchStatus.CANCELLED)


async def run(path: Path, settings: Settings, platform: str, user_id: str, *, yes: bool, wait: bool) -> int:
    """0: executed (or waiting for approvers); 1: refused (not an operator, errors in the file, a warning not
    confirmed, or Execute refused); 2: the file cannot be read."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as e:
        print(f"snowrail bulk run: cannot read {path}: {e.strerror or e}", file=sys.stderr)
        return 2
    app = await build(settings, watch=False)
    try:
        return await _run(app, path.name, data, Actor(platform, user_id, f"{platform}:{user_id}"), yes=yes, wait=wait)
    finally:
        await app.close()


async def _run(app: App, name: str, data: bytes, actor: Actor, *, yes: bool, wait: bool) -> int:
    s = app.engine.services
    role = await role_of(s, actor)
    if not role.may_spend and not s.policy.is_operator(actor):
        print(f"snowrail bulk run: {actor.ref} is not an operator of this bot; only operators may execute a bulk "
              "payout (give the role with /role, or OPERATORS)", file=sys.stderr)
        return 1
    run_id = secrets.token_hex(8)
    reply = await app.engine.handle(BulkUpload(actor, f"cli-{run_id}-upload", "upload", filename=name, data=data,
                                               max_rows=MAX_SHELL_ROWS))
    batch_id = _button_target(reply, "/bulk execute ")
    _say(reply)
    if batch_id is None:
        print("snowrail bulk run: nothing was stored; fix the file and run again", file=sys.stderr)
        return 1
    print(f"batch {batch_id}")
    for attempt in range(2):
        reply = await app.engine.handle(Bulk(actor, f"cli-{run_id}-execute-{attempt}", "execute", batch_id=batch_id))
        _say(reply)
        status = await _status(app, batch_id)
        if status is not BatchStatus.PREVIEW or reply.kind == "error":
            break
        if not yes:  # duplicates or a repeated file: chat asks for Execute twice, the shell for --yes
            print(f"snowrail bulk run: not executed; run again with --yes to confirm, or cancel: /bulk cancel {batch_id}",
                  file=sys.stderr)
            return 1
    if status is BatchStatus.AWAITING:
        print(f"batch {batch_id} is waiting for approvers; it starts when they approve (/pending)")
        return 0
    if status is not BatchStatus.RUNNING and status not in _FINAL:
        return 1
    if not wait and not app.inline:
        print(f"batch {batch_id} is queued; workers settle it (snowrail bulk run ... without --no-wait follows it)")
        return 0
    return await _follow(app, batch_id)


async def _follow(app: App, batch_id: str) -> int:
    """Print progress until the batch is done (inline jobs run in this process: it must stay up until then)."""
    last = ""
    started = changed = time.monotonic()
    # A job that crashed leaves the batch RUNNING (it resumes at the next start): stop following after the
    # engine's own outage allowance without progress, rather than hang.
    patience = app.engine.services.bulk.outage_limit + 60
    while True:
        async with app.uow() as uow:
            batch = await uow.batches.get(batch_id)
        assert batch is not None
        line = (f"{batch_id}: {batch.paid:,} paid, {batch.failed:,} failed, {batch.cancelled:,} cancelled of "
                f"{batch.rows:,} ({time.monotonic() - started:.0f} s)")
        if line.split(" (")[0] != last:
            print(line, flush=True)
            last, changed = line.split(" (")[0], time.monotonic()
        if batch.status in _FINAL:
            return 0 if not batch.failed else 1
        if time.monotonic() - changed > patience:
            print(f"snowrail bulk run: no progress for {patience:.0f} s; {batch_id} stays {batch.status.value} and "
                  "resumes when the bot or a worker starts (/bulk status shows it)", file=sys.stderr)
            return 1
        await asyncio.sleep(1.0)


async def _status(app: App, batch_id: str) -> BatchStatus | None:
    async with app.uow() as uow:
        batch = await uow.batches.get(batch_id)
    return batch.status if batch else None


def _button_target(reply: Reply, prefix: str) -> str | None:
    """The batch id an upload's Execute button names: the upload stored a batch (only an operator's valid file)."""
    for b in reply.buttons:
        if b.command.startswith(prefix):
            return b.command[len(prefix):].strip()
    return None


def _say(reply: Reply) -> None:
    print(reply.plain(), file=sys.stderr if reply.kind == "error" else sys.stdout, flush=True)
