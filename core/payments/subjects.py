"""What an approval request is about: a payment or treasury mixer deposit (an Intent), or a bulk batch.

core.payments.approvals decides on requests without caring which; this module holds what differs: how each is
read under its row lock, described, called off, checked against the on-chain allowance, and sent on its way.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.bulk import gate
from core.bulk.model import Batch, BatchStatus
from core.bulk.settle import enqueue
from core.errors import UserError
from core.model import Intent, IntentStatus
from core.payments.allowance import check_allowance, shortfalls
from core.payments.settle import settle
from core.ports import UnitOfWork
from core.replies import Reply, code
from core.services import Payee, Services
from core.views import amount_text, counted


@dataclass
class Subject:
    id: str
    noun: str  # "payment", "deposit" or "bulk payout"
    amount: str  # e.g. "150 CRO", or "1,200 USDC + 50 CRO in 30 payouts"
    waiting: bool  # nothing was started: a decision can still be taken
    state: str  # its status in words
    intent: Intent | None = None
    batch: Batch | None = None

    @property
    def title(self) -> str:
        return f"{self.noun.capitalize()} {self.id}"


def of_intent(s: Services, intent: Intent) -> Subject:
    return Subject(intent.id, "deposit" if intent.mixer_commitment else "payment", amount_text(s.chain, intent),
                   intent.status is IntentStatus.PENDING, intent.status.value, intent=intent)


def of_batch(s: Services, batch: Batch) -> Subject:
    waiting = batch.status is BatchStatus.AWAITING
    return Subject(batch.id, "bulk payout", gate.amount_text(s, batch), waiting,
                   "awaiting approval" if waiting else batch.status.value, batch=batch)


async def load(s: Services, uow: UnitOfWork, ref: str, *, for_update: bool = False) -> Subject | None:
    """The payment or batch `ref`, read with its row lock when `for_update` (which serialises deciders, the
    requester's cancel and the sweep)."""
    if ref.startswith("bulk-"):
        batch = await uow.batches.get(ref, for_update=for_update)
        return None if batch is None else of_batch(s, batch)
    intent = await uow.intents.get(ref, for_update=for_update)
    return None if intent is None else of_intent(s, intent)


async def call_off(s: Services, uow: UnitOfWork, subject: Subject) -> None:
    """Cancel a subject that is still waiting (rejected or expired); the caller commits."""
    now = s.clock.now()
    if subject.batch is not None:
        await gate.call_off(uow, subject.batch, now)
    elif subject.intent is not None:
        subject.intent.move(IntentStatus.CANCELLED, now)
        await uow.intents.save(subject.intent)


async def check_covered(s: Services, subject: Subject) -> None:
    """Before the last approval is stored: refuse if the executor's on-chain allowance would not cover it."""
    if subject.intent is not None:
        await check_allowance(s, s.token(subject.intent.token), subject.intent.amount)
    elif subject.batch is not None:
        capped = await shortfalls(s, subject.batch.totals)
        if capped:
            raise UserError(capped[0], field="allowance")


async def proceed(s: Services, ref: str) -> Reply:
    """Send an approved subject on its way: sign and send the payment through the exactly-once settle, or start
    the batch's workers. Safe to call twice: a payment already signed and a batch already started are left be."""
    if not ref.startswith("bulk-"):
        return await settle(s, ref)
    async with s.uow() as uow:
        batch = await uow.batches.get(ref, for_update=True)
        if batch is None or batch.status is not BatchStatus.AWAITING:
            return Reply.of(("Bulk payout ", code(ref), " is already under way."))
        chunks = await gate.start(s, uow, batch, s.clock.now())
        await uow.commit()
    queued = enqueue(s, batch.id, chunks)
    return Reply.of(
        ("Bulk payout ", code(batch.id), f" started: {counted(batch.rows, 'payout')} in "
         f"{counted(len(chunks), 'transaction')}."),
        "Its requester gets the progress and the report." if queued
        else "The job queue is not answering right now; the batch is saved and starts when a worker is back.",
    )


async def outcome(s: Services, uow: UnitOfWork, ref: str) -> tuple[str, bool]:
    """After proceed(): what became of it in words, and whether money is on its way (for the admins' alert)."""
    subject = await load(s, uow, ref)
    if subject is None:
        return "gone", False
    if subject.batch is not None:
        batch = subject.batch
        started = batch.status in (BatchStatus.RUNNING, BatchStatus.DONE)
        return ("started; its requester gets the report" if started else f"{batch.status.value}"), started
    intent = subject.intent
    assert intent is not None
    what = {
        IntentStatus.CONFIRMED: "paid, confirmed on chain",
        IntentStatus.SUBMITTED: "signed and sent; not confirmed yet",
        IntentStatus.FAILED: f"failed: {intent.error}",
    }.get(intent.status, f"not signed yet ({intent.error or 'the chain node did not answer'}); it is retried")
    return what, intent.status in (IntentStatus.SUBMITTED, IntentStatus.CONFIRMED)


def payee_line(payee: Payee, intent: Intent) -> str:
    if intent.mixer_commitment:
        return " (the privacy pool: a deposit from the treasury; the note stays with the requester)"
    return f" ({payee.who})" if payee.named else f" ({payee.ref})" if payee.ref else " (no SnowRail account)"
