"""The escrow watcher: funding events attributed to intents, conditions checked, releases, refunds, expiries.

One pass per Engine.tick, in one process at a time (the "escrow-watch" database lock):
1. the Settlement's escrow logs from the stored cursor (less a reorg margin) to the head, chunked; each names an
   intent hash, and the contract's own record of that hash (never a sum of logs) says what is held and whether it
   closed, so a log seen twice or re-read changes nothing (core.escrow.record);
2. funded TIME intents whose due time passed are released;
3. funded PRICE intents whose condition the latest reading meets are released: one reading per pair, and a stale
   one (older than PRICE_MAX_AGE_SECONDS) or a broken one (<= 0) fires nothing and is noted for /status;
4. expired intents are refunded (or cancelled when nothing is held). Once expired an intent is never released:
   its funder may be taking it back on chain at that moment.
With no new block only the due and expiry queries run: a price can only move in a block.

Each step decides in a short unit of work that takes the "escrow-watch" lock (UnitOfWork.try_lock); a process
that finds it taken leaves the step to the other. The lock is not held across the chain calls in between: on
SQLite a unit of work is the database's single writer, and chat commands must not wait for the node. So two
processes may both reach a release; exactly once never rests on this lock but on core.escrow.settle, which signs
only under the intent's row lock after checking its status (and the contract closes an intent at most once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from core.errors import TransientError, UserError
from core.escrow import settle
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.ports import EscrowChain, EscrowEvent, EscrowState
from core.escrow.record import observe
from core.money import format_units
from core.ports import UnitOfWork
from core.prices import PriceReading, fault
from core.services import Services, log

LOCK = "escrow-watch"
CURSOR = "escrow"
# Blocks re-read on every pass, as the mixer's tree sync does (adapters/mixer/sync.py): a log a shallow reorg
# moved is seen again. Cronos finalises in one block; anvil and Ethereum-like chains can reorg a few.
REORG_MARGIN = 12
CHUNK_BLOCKS = 2_000  # eth_getLogs ranges public nodes accept
# A release or refund the chain refused (simulated or mined) is tried again no sooner than this: the condition
# still holds, but each try costs a node call (or gas), and the reason is shown in /status meanwhile.
RETRY_AFTER = timedelta(minutes=1)
_LIVE = [EscrowStatus.AWAITING, EscrowStatus.FUNDED, EscrowStatus.RELEASING, EscrowStatus.REFUNDING]


async def tick(s: Services) -> int:
    """One pass of the due-time loop for escrowed intents; returns how many intents changed. Idle (no new block,
    nothing due) it costs one node call and one short read under the lock."""
    if s.escrow is None:
        return 0
    head, head_time = await s.escrow.head()
    # Due times and expiries follow whichever runs ahead: the chain (anvil's evm_increaseTime) or this clock (a
    # dev chain that mines only on demand). The contract checks no time on an executor's release or refund.
    now = max(s.clock.now(), datetime.fromtimestamp(head_time, UTC))
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            return 0  # another process is in its pass
        cursor = await uow.cursors.get(CURSOR)
        due = [i for i in await uow.escrows.due(now) if i.expires_at > now]  # never released once expired
        expired = await uow.escrows.expired(now)
    new_block = cursor is None or head != cursor
    moved = await follow(s, s.escrow, cursor, head) if new_block else 0
    if moved:  # some were funded just now: one may be due already
        due = await _due(s, now)
    moved += await _fire(s, due, settle.RELEASE)
    if new_block:
        moved += await check_prices(s, now)
    return moved + await _fire(s, expired, settle.REFUND)


async def follow(s: Services, escrow: EscrowChain, cursor: int | None, head: int) -> int:
    """Read the logs after `cursor` (re-reading the margin) up to `head`, bring their intents in line with the
    contract and store the cursor, in one transaction. Without a cursor (a first start, or a chain that went
    back: a restarted dev chain) every live intent is read from the contract instead of the whole history."""
    fresh = cursor is None or head < cursor
    start = max(head - REORG_MARGIN if fresh or cursor is None else cursor + 1 - REORG_MARGIN, 0)
    events: list[EscrowEvent] = []
    for lo in range(start, head + 1, CHUNK_BLOCKS):
        events += await escrow.events(lo, min(lo + CHUNK_BLOCKS - 1, head))
    logged: dict[str, list[EscrowEvent]] = {}
    for e in events:
        logged.setdefault(e.intent_hash.lower(), []).append(e)
    async with s.uow() as uow:
        found = await uow.escrows.by_hash(list(logged)) if logged else []
        if fresh:
            found += await uow.escrows.with_status(_LIVE)
    live = {i.id: i for i in found if i.status in _LIVE}
    # The contract's record of each, read at once and outside the transaction.
    read = await asyncio.gather(*(escrow.escrow(i.intent_hash) for i in live.values()))
    states = dict(zip(live, read, strict=True))
    changed = 0
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            return 0  # another process took over: it reads the same logs
        for intent_id, state in states.items():
            changed += await _apply(s, uow, intent_id, state, logged.get(live[intent_id].intent_hash.lower(), []),
                                    after=-1 if cursor is None else cursor)
        await uow.cursors.put(CURSOR, head)
        await uow.commit()
    if changed:
        s.notify_soon()
    return changed


async def _apply(s: Services, uow: UnitOfWork, intent_id: str, state: EscrowState, events: list[EscrowEvent],
                 *, after: int) -> int:
    intent = await uow.escrows.get(intent_id, for_update=True)
    if intent is None:
        return 0
    before = (intent.status, intent.funded, intent.funder)
    closing = [e.tx_hash for e in events if e.kind in ("released", "refunded")]
    # Deposits already announced (at or before the cursor) are only re-read for the reorg margin; their notices'
    # dedup keys would drop a repeat anyway, this just spares the outbox the attempt.
    deposits = [e for e in events if e.kind == "funded" and e.block_number > after]
    notes = observe(s, intent, state, now=s.clock.now(), deposits=deposits, closing_tx=closing[-1] if closing else None)
    moved = (intent.status, intent.funded, intent.funder) != before
    if moved:
        await uow.escrows.save(intent)
    for n in notes:  # a log delivered again adds nothing: each notice's dedup key names its fact
        await uow.outbox.add(n)
    return int(moved)


async def _due(s: Services, now: datetime) -> list[EscrowIntent]:
    async with s.uow() as uow:
        if not await uow.try_lock(LOCK):
            return []
        return [i for i in await uow.escrows.due(now) if i.expires_at > now]


async def check_prices(s: Services, now: datetime) -> int:
    """The price step: one reading per pair, and the funded intents it satisfies (decided by the database)."""
    if s.prices is None:
        return 0
    fired = 0
    for pair in s.prices.pairs():
        try:
            reading = await s.prices.latest(pair)
        except (TransientError, UserError) as e:
            log.warning("escrow watch: no %s price this pass (%s)", pair, e.message)
            continue
        async with s.uow() as uow:
            if not await uow.try_lock(LOCK):
                return fired
            ready = await uow.escrows.price_ready(pair, reading.answer)
        if not ready:
            continue
        why = unusable(s, reading, now)
        if why is not None:
            await _note(s, ready, why)
            continue
        fits = [i for i in ready if i.price_decimals in (None, reading.decimals)]
        await _note(s, [i for i in ready if i not in fits],
                    f"the {pair} feed now answers with {reading.decimals} decimals, not those of this condition")
        fired += await _fire(s, [i for i in fits if i.expires_at > now], settle.RELEASE)
    return fired


def unusable(s: Services, reading: PriceReading, now: datetime) -> str | None:
    """Why a reading must not fire anything, for the note /status shows; None when it may."""
    problem = fault(reading, now, s.policy.price_max_age)
    if problem == "broken":
        return f"the {reading.pair} feed answered {reading.answer} (a broken feed), so the condition does not fire"
    if problem == "stale":
        price = format_units(reading.answer, reading.decimals)
        return (f"the {reading.pair} feed has not updated since {reading.updated_at:%Y-%m-%d %H:%M} UTC "
                f"(last {price}), so the condition does not fire on that old price")
    return None


async def _note(s: Services, intents: Iterable[EscrowIntent], why: str) -> None:
    """Keep `why` on each intent for /status; an intent already saying so is not written again."""
    todo = [i.id for i in intents if i.note != why]
    if not todo:
        return
    async with s.uow() as uow:
        for intent_id in todo:
            intent = await uow.escrows.get(intent_id, for_update=True)
            if intent is not None and intent.status is EscrowStatus.FUNDED:
                intent.note = why
                await uow.escrows.save(intent)
        await uow.commit()


async def _fire(s: Services, intents: list[EscrowIntent], how: str) -> int:
    """Release (refund) each intent: signed and stored, then sent without waiting; the watcher records the
    outcome from the contract's log on a later pass (core.escrow.reconcile when it never comes)."""
    fired = 0
    for intent in intents:
        if intent.error and s.clock.now() - intent.updated_at < RETRY_AFTER:
            continue  # refused a moment ago: /status shows why; try again later
        try:
            begun = await settle.begin(s, intent.id, how, expired=how == settle.REFUND)
        except TransientError as e:
            log.warning("escrow watch: %s of %s skipped: %s unavailable", how, intent.id, e.service)
            continue
        if begun.signed is not None:
            await settle.send(s, begun.intent, begun.signed, wait=False)
            fired += 1
        elif begun.intent.status is not intent.status:
            fired += 1  # cancelled (nothing was held), or found closed on chain
    return fired
