"""Bulk row ids: whole words of the contract's paid-rows bitmap that the chain shows unused, as batches start or retry.

The database counter proposes a span; the chain answers whether any of its words is already written. A database
behind its contract (a fresh one against a deployed Settlement, a backup restored after more batches were paid)
would otherwise hand out ids executeBatch has paid already: it skips those rows, and nobody receives them.
"""

from __future__ import annotations

from core.alerts import alert_admins, security_alert
from core.bulk.model import BatchRow, Chunk
from core.errors import ChainUnavailable
from core.ports import UnitOfWork
from core.replies import code
from core.services import Services, log

WORD = 256  # row ids per bitmap word
_PROBE_MOST = 1024  # words read in one round trip while catching up with a contract far ahead of the database
_TRIES = 64  # spans tried before giving up (the window doubles each time: far beyond any real gap)

# A row the contract reports as paid by a transaction this batch never signed: its id was another batch's.
COLLISION = "row id already used on chain by another batch — not paid; retry the batch"


async def ensure_unused(s: Services, uow: UnitOfWork, rows: list[BatchRow]) -> None:
    """As a batch starts (core.bulk.gate.start: Execute, the last approval, a due schedule; every batch starts
    there, and nothing is signed before), make sure the contract has written none of the words its row ids lie
    in: one round trip. Ids are handed out when the batch is stored, without the chain (a preview is shown with
    the node away); if any of their words is in use, the rows get fresh ids (the caller saves the rows)."""
    words = {r.row_id // WORD for r in rows if r.row_id is not None}
    if words and not set(await s.chain.used_row_words(min(words), max(words))) & words:
        return
    if words:
        log.warning("bulk %s: its row ids are already used on chain; giving it fresh ones", rows[0].batch_id)
    await number(s, uow, rows)


async def number(s: Services, uow: UnitOfWork, rows: list[BatchRow]) -> None:
    """Give `rows` consecutive ids in file order from fresh whole words that no transaction has written, in the
    caller's transaction (its rollback gives the span back). One round trip when the database is in step
    with the contract; when a word of the span is in use, the counter moves past the highest used word seen
    and a new span is tried, reading a window twice as wide each time so a long gap is crossed quickly."""
    if not rows:
        return
    span = -(-len(rows) // WORD)
    window = span
    for _ in range(_TRIES):
        first = await uow.batches.reserve_row_ids(len(rows))
        low = first // WORD
        used = await s.chain.used_row_words(low, low + max(span, window) - 1)
        if not any(w < low + span for w in used):
            for i, r in enumerate(sorted(rows, key=lambda r: r.seq)):
                r.row_id = first + i  # in file order, so a chunk's rows fill its bitmap words in order
            return
        log.warning("bulk row ids %s.. are already used on chain (words %s..%s): the database is behind its "
                    "contract; moving past them", first, min(used), max(used))
        await uow.batches.skip_row_ids((max(used) + 1) * WORD)
        window = min(max(window, span) * 2, _PROBE_MOST)
    raise ChainUnavailable("could not find unused bulk row ids on chain; try again later")


# ---------------------------------------------------------------- caught when recorded
async def foreign_payers(uow: UnitOfWork, batch_id: str, paid_before: dict[int, str], this_tx: str) -> dict[int, str]:
    """Of rows the contract paid before (row id -> the transaction that paid it), those whose transaction is
    not one this batch signed (any chunk, any signing: a retry's chunk may find a row its first round paid)."""
    if not paid_before:
        return {}
    ours = {this_tx.lower()}
    for chunk in await uow.batches.chunks(batch_id):
        ours.update(h.lower() for h in (*chunk.signed_hashes, chunk.tx_hash or "") if h)
    return {row_id: tx for row_id, tx in paid_before.items() if tx.lower() not in ours}


async def alert_collision(s: Services, uow: UnitOfWork, chunk: Chunk, this_tx: str, foreign: dict[int, str]) -> int:
    """Tell the admins, in the caller's transaction (which fails the rows), that rows of a batch were skipped
    by the contract because other transactions had paid their row ids; the caller commits and notifies."""
    ids = sorted(foreign)
    payers = sorted(set(foreign.values()))
    log.error("bulk %s chunk %s: %s row ids already paid on chain by other transactions %s; rows failed, not paid",
              chunk.batch_id, chunk.index, len(ids), payers[:3])
    reply = security_alert(
        "bulk row ids already used on chain",
        ("Batch ", code(chunk.batch_id), f": {len(ids)} row{'s' if len(ids) != 1 else ''} (row ids "
         f"{', '.join(map(str, ids[:5]))}{' ...' if len(ids) > 5 else ''}) were skipped by the contract in ",
         code(this_tx), ": their ids had been paid by transactions this bot's batch never signed (",
         code(payers[0]), f"{' and others' if len(payers) > 1 else ''})."),
        "Nobody received those rows: they are marked failed, not paid. The database is probably behind the "
        "contract (a fresh database or a restored backup).",
        ("Check it, then ", code(f"/bulk retry {chunk.batch_id}"), " gives those rows new ids."),
    )
    return await alert_admins(uow, s, f"rowcollision:{chunk.batch_id}:{chunk.index}:{this_tx}", reply)
