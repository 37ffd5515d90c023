"""Delivering the outbox (claiming pending notifications, sending each through a Notifier, progress slots), and
the payment_received DMs a finished batch leaves in it for its linked recipients."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.addresses import short
from core.bulk.model import Batch, BatchRow, RowStatus
from core.model import DeliveryStatus, Notification, NotificationType, User
from core.money import format_units
from core.ports import Delivery, Notifier, UnitOfWork
from core.replies import Reply, Span, code, dumps, loads
from core.services import Services, log
from core.signin import signed_dm
from core.views import tx_spans

# A deliverer claims this many notifications at a time, and holds them for DELIVERY_LEASE: far longer than
# sending a page takes (even through Telegram's 1 message/s per chat), short enough that a dead worker's page
# goes out soon after.
DELIVERY_PAGE = 10
DELIVERY_LEASE = timedelta(minutes=2)
# A notification that failed this many sends is given up on (undeliverable, with its last error): at one try
# per lease that is about twenty minutes of a platform refusing it, and a stuck row stops costing a send per page.
MAX_ATTEMPTS = 10


def progress_slot(notification: Notification) -> str | None:
    """Progress notifications of one batch share a slot: each is delivered by EDITING the message last sent
    for that slot (Notifier.send_in_place). Other notifications: None."""
    if notification.type is not NotificationType.BATCH_PROGRESS:
        return None
    return notification.dedup_key.rsplit(":", 1)[0]


async def deliver(
    s: Services, notifier: Notifier, *, platform: str | None = None, limit: int = 100, lease: timedelta = DELIVERY_LEASE
) -> int:
    """Deliver pending outbox rows (at least once; dedup keys make repeats harmless). Returns sent count.
    Rows are claimed a page at a time under a lease, so deliverers running at once (the compose file runs
    two workers) never send the same notification; a deliverer that dies leaves its page to the others
    once the lease has run out, and a failed send is tried again after it (or after the wait the platform
    asked for, if longer), at most MAX_ATTEMPTS times."""
    sent = handled = 0
    while handled < limit:
        now = s.clock.now()
        async with s.uow() as uow:
            page = await uow.outbox.claim(min(DELIVERY_PAGE, limit - handled), now=now, until=now + lease,
                                          platform=platform)
            await uow.commit()
        if not page:
            return sent
        handled += len(page)
        for n in page:
            slot = progress_slot(n)
            body = _body(s, n, now)
            if body is None:  # a sign-in link this process cannot sign; a deliverer that can will send it
                result = Delivery(ok=False, error="no WEB_SECRET here to sign the dashboard link with")
            else:
                result = await (notifier.send_in_place(n.user_ref, body, slot) if slot else notifier.send(n.user_ref, body))
            sent += await _record(s, n, result, held_until=now + lease)
    # The limit was reached with more maybe waiting (a large batch's DMs): hand the rest to the next delivery run
    # rather than leave it for whatever event comes next. One run at a time keeps each platform's pacing.
    try:
        s.notify_soon()
    except Exception:  # the queue's own connection errors: the rows stay pending for the next run
        log.warning("could not enqueue the next notification delivery", exc_info=True)
    return sent


def _body(s: Services, n: Notification, now: datetime) -> Reply | None:
    """What to send for `n`. A sign-in link is stored unsigned and signed only here, as it goes out."""
    if n.type is NotificationType.SIGN_IN_LINK:
        return signed_dm(s.web, n, now)
    return loads(n.body)


async def _record(s: Services, n: Notification, result: Delivery, *, held_until: datetime) -> int:
    """Write the outcome of one send; 1 if it was sent."""
    now = s.clock.now()
    retry_at = None
    n.attempts += 1
    if result.ok:
        n.status, n.sent_at = DeliveryStatus.SENT, now
    elif result.undeliverable or n.attempts >= MAX_ATTEMPTS:
        n.status, n.last_error = DeliveryStatus.UNDELIVERABLE, result.error
    else:
        n.last_error = result.error
        if result.retry_after is not None:  # the claim already holds it until held_until; wait longer if asked
            retry_at = max(held_until, now + timedelta(seconds=result.retry_after))
    async with s.uow() as uow:
        await uow.outbox.save(n, retry_at=retry_at)
        await uow.commit()
    if result.ok:
        s.metrics.delivered(now - n.created_at)
    return 1 if result.ok else 0


# ---------------------------------------------------------------- payment_received, for bulk payouts
RECEIVED_ROWS_SHOWN = 10  # rows listed in one DM; the rest are counted (a DM stays one message on every platform)


def _linked(users: list[User], skip: str) -> dict[str, User]:
    """lowercase wallet -> the one account told about it: the first by ref (as /pay picks), not DM-blocked, not
    `skip` (the uploader, who has the summary). A person with several platform accounts gets one DM, not one each."""
    out: dict[str, User] = {}
    for u in sorted(users, key=lambda u: u.ref):
        if u.wallet and u.ref != skip and not u.dm_blocked:
            out.setdefault(u.wallet.lower(), u)
    return out


class Received:
    """Who to tell of a finished batch (round), gathered page by page: the paid rows of this round whose recipient
    is linked to someone (not the uploader, who has the summary), grouped per person. queue() then writes one
    payment_received DM per person, in the transaction that finishes the batch; the dedup key (batch, round,
    person) makes it exactly once however many workers see the batch complete."""

    def __init__(self, batch: Batch, this_round: set[int]) -> None:
        self.batch, self.this_round = batch, this_round
        self.mine: dict[str, list[BatchRow]] = {}

    async def add(self, uow: UnitOfWork, rows: list[BatchRow]) -> None:
        paid = [r for r in rows if r.status is RowStatus.PAID and r.chunk in self.this_round]
        if not paid:
            return
        people = _linked(await uow.users.by_wallets(sorted({r.recipient for r in paid})), self.batch.actor_ref)
        for r in paid:
            if (person := people.get(r.recipient.lower())) is not None:
                self.mine.setdefault(person.ref, []).append(r)

    async def queue(self, s: Services, uow: UnitOfWork) -> int:
        now, batch = s.clock.now(), self.batch
        for ref, theirs in self.mine.items():
            body = received_reply(s, batch, theirs)
            await uow.outbox.add(Notification(f"{batch.id}:received:{batch.round}:{ref}", ref,
                                              NotificationType.PAYMENT_RECEIVED, dumps(body), now))
        return len(self.mine)


async def queue_received(s: Services, uow: UnitOfWork, batch: Batch, rows: list[BatchRow]) -> int:
    """Received for rows already in memory (a small batch): one DM per linked recipient; how many were queued."""
    received = Received(batch, {c.index for c in await uow.batches.chunks(batch.id) if c.round == batch.round})
    await received.add(uow, rows)
    return await received.queue(s, uow)


def received_reply(s: Services, batch: Batch, rows: list[BatchRow]) -> Reply:
    """What a recipient is told: the total per token, who paid (BOT_NAME), then each payout with its memo and tx."""
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.token] = totals.get(r.token, 0) + r.amount
    total = " and ".join(_amount(s, units, sym) for sym, units in totals.items())
    payouts = f" in {len(rows):,} payouts" if len(rows) > 1 else ""
    lines: list[tuple[str | Span, ...]] = [(f"💸 You received {total}{payouts} from {s.policy.bot_name} (payout ",
                                            code(batch.id), ").")]
    for r in rows[:RECEIVED_ROWS_SHOWN]:
        memo = f" — {r.memo if len(r.memo) <= 80 else r.memo[:80] + '…'}" if r.memo else ""
        tx: tuple[str | Span, ...] = (" · tx ", *tx_spans(s.chain, r.tx_hash)) if r.tx_hash else ()
        lines.append((f"• {_amount(s, r.amount, r.token)}{memo}", *tx))
    if len(rows) > RECEIVED_ROWS_SHOWN:
        lines.append((f"… and {len(rows) - RECEIVED_ROWS_SHOWN:,} more; /history lists them.",))
    lines.append(("To your wallet ", code(short(rows[0].recipient)), "."))
    return Reply.of(*lines, kind="ok", private=True)


def _amount(s: Services, units: int, symbol: str) -> str:
    return f"{format_units(units, s.token(symbol).decimals)} {symbol}"
