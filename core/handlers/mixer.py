"""The privacy pool in chat: /mix makes a note (and, for operators, deposits it from the treasury), /withdraw
relays it."""

from __future__ import annotations

from datetime import datetime

from core import payments
from core.addresses import short
from core.commands import Mix, Withdraw
from core.errors import ChainUnavailable, TransientError, UserError
from core.model import Intent, IntentStatus, Notification, NotificationType, ProcessedKey
from core.mixing import MixNote, MixWithdrawal, Mixer
from core.replies import Attachment, Button, Reply, Span, bold, code, dumps, link
from core.payments import approvals, limits, subjects
from core.services import Payee, Services, log, new_id, new_intent_hash
from core.views import counted

_Line = str | Span | tuple[str | Span, ...]  # one line of a reply, as Reply.of takes it

# What a repeat of a /mix message gets: the note went out in the first answer and is not kept anywhere.
_REPEAT = Reply.of(
    "Already handled this message. Your note was in my first answer; I do not keep notes, so I cannot send it "
    "again. Send /mix again for a new one.",
    private=True,
)
_LOSS_WARNING = (
    "Keep it secret and keep it safe: whoever has this note can withdraw the deposit, and if you lose it the "
    "funds are lost for good. I do not keep a copy."
)


def _mixer(s: Services) -> Mixer:
    if s.mixer is None:
        raise UserError(s.policy.mixer_off or "The privacy pool is not available yet on this bot: no pool is configured.")
    return s.mixer


def _tx(s: Services, tx_hash: str) -> tuple[str | Span, ...]:
    url = s.chain.explorer_url(tx_hash)
    return ("Transaction ", link(short(tx_hash), url) if url else code(tx_hash))


async def mix(s: Services, cmd: Mix) -> Reply:
    """Records the key first (with a reply that holds no note), so a repeated message never deposits twice.
    An operator's /mix also records a treasury intent in the same transaction: the treasury pays the pool
    (Settlement.executeMixerDeposit) at most once, through the same sign-store-send path as /pay."""
    mixer = _mixer(s)
    note = mixer.new_note(cmd.amount)
    now = s.clock.now()
    operator = s.policy.is_operator(cmd.actor)
    intent = _deposit_intent(s, cmd, note) if operator else None
    record = ProcessedKey(cmd.key, "mix", cmd.actor.ref, now, intent_id=intent.id if intent else None,
                          reply=dumps(_REPEAT))
    if intent is not None:
        try:
            await payments.check_treasury(s, intent)
        except ChainUnavailable:
            return Reply.error("The chain node is not answering, so nothing was deposited. Try /mix again later.")
    waiting = None
    async with s.uow() as uow:
        if intent is not None:
            symbol, units = cmd.amount.token.symbol, cmd.amount.units
            over = await limits.over_daily(s, uow, cmd.actor, {symbol: units})  # holds the spend lock
            if over is not None or approvals.needs_approval(s, symbol, units):
                # The note is handed over now (worth nothing until the deposit is approved and confirmed), and the
                # deposit waits for the approvers like a /pay.
                intent.needs_confirmation = True
                waiting = await approvals.request(s, uow, cmd.actor, subjects.of_intent(s, intent),
                                                  approvals.ask_payment(s, intent, Payee(note.pool, None)), over)
            limit = s.policy.confirm_above.get(symbol)
            if waiting is None and limit is not None and units > limit:
                # /pay would wait for /confirm; a deposit cannot, because the note is not kept in the meantime.
                raise UserError(f"mix: {cmd.amount} is above this chat's confirmation limit, and a treasury deposit "
                                "cannot wait for /confirm (I do not keep notes). Use a smaller pool.", field="amount")
            await uow.intents.add(intent)
        await uow.keys.add(record)
        await uow.commit()
    lines: list[_Line] = [("Your note for ", bold(str(cmd.amount)), ":"), (code(note.text),), _LOSS_WARNING]
    if waiting is not None:
        s.notify_soon()
        lines.append("It is worth nothing until the deposit below is approved and confirmed; you will be told.")
        return Reply((*Reply.of(*lines).lines, *waiting.lines), waiting.buttons, private=True)

    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()
    if intent is not None:
        try:
            await payments.settle(s, intent.id)
            async with s.uow() as uow:
                intent = await uow.intents.get(intent.id) or intent
        except Exception as e:  # noqa: BLE001 - it may have been sent: the note must reach its owner
            log.warning("mixer deposit %s: outcome unknown (%s)", intent.id, type(e).__name__)
            mixer.watch(note.commitment, cmd.actor.ref)
            lines.append(f"I could not confirm the treasury's deposit (payment {intent.id}); it may still go "
                         "through, so keep this note. If /withdraw later says no deposit has this note, nothing "
                         "was deposited.")
            return _note_reply(lines)
        if intent.status in (IntentStatus.FAILED, IntentStatus.PENDING):
            # Nothing was deposited (refused before sending, or never signed), so the note is worthless.
            why = f" {intent.error}." if intent.error else ""
            failed = Reply.error(f"The deposit into the {cmd.amount} pool from the treasury failed.{why} "
                                 f"Nothing was deposited (payment {intent.id}).")
            if intent.status is IntentStatus.PENDING:
                await _cancel(s, intent.id)
            await _save_reply(s, record, failed)
            return failed
        deposit = None
        if intent.status is IntentStatus.CONFIRMED:
            try:
                deposit = await mixer.deposited(note.commitment)
            except Exception as e:  # noqa: BLE001 - the deposit is confirmed; only its leaf number is unknown
                log.warning("mixer deposit %s: leaf not read (%s)", intent.id, type(e).__name__)
        if deposit is not None:
            lines += [
                (f"Deposited {cmd.amount} from the treasury (payment {intent.id}): leaf #{deposit.leaf_index}; "
                 "the pool now holds ", bold(str(deposit.anonymity_set)), " deposits."),
                _tx(s, deposit.tx_hash),
            ]
        else:
            # Signed and stored before sending: reconcile settles it, and the watcher tells the user its leaf.
            mixer.watch(note.commitment, cmd.actor.ref)
            state = "is confirmed" if intent.status is IntentStatus.CONFIRMED else "is sent but not confirmed yet"
            if intent.status is IntentStatus.SUBMITTED and intent.error:  # the node refused it for now
                state = f"is not on chain yet ({intent.error}); it stays signed and is sent again automatically"
            lines.append(f"The treasury's deposit (payment {intent.id}) {state}; keep this note. I will message "
                         "you its leaf number when the pool shows it.")
    else:
        lines += [
            ("To fund it, send exactly ", bold(str(cmd.amount)), " from your own wallet calling deposit(",
             code(note.commitment), ") on the pool ", code(note.pool), ". The payment link does exactly that."),
            "Until that deposit is confirmed the note is worth nothing.",
        ]
        buttons = (Button("Pay the deposit from your wallet", url=note.payment_uri),)
        if note.payment_qr:
            files = (Attachment("snowrail-deposit-qr.png", note.payment_qr, "image/png"),)
        mixer.watch(note.commitment, cmd.actor.ref)
        lines.append("I will message you when the deposit is confirmed.")
    return _note_reply(lines, files, buttons)


def _note_reply(lines: list[_Line], files: tuple[Attachment, ...] = (), buttons: tuple[Button, ...] = ()) -> Reply:
    lines.append(("Later, from a private chat: ", code("/withdraw <note> <fresh address>"),
                  ". Waiting a while, and while others deposit, makes the withdrawal harder to link to you."))
    return Reply.of(*lines, files=files, private=True, kind="ok").with_buttons(*buttons)


async def withdraw(s: Services, cmd: Withdraw) -> Reply:
    mixer = _mixer(s)
    if cmd.address is None:
        raise UserError(
            "withdraw: give the address that should receive the funds: /withdraw <note> <address>. "
            "A fresh address that was never linked to you keeps the withdrawal private.",
            field="address",
        )
    done = await mixer.withdraw(cmd.note, cmd.address, cmd.actor.ref)
    await _withdrawal_ready(s, cmd.actor.ref, done)
    return Reply.of(
        ("Withdrawn: ", bold(str(done.received)), " sent to ", code(done.recipient),
         f" (relayer fee {done.fee}). The pool holds {counted(done.anonymity_set, 'deposit')}."),
        _tx(s, done.tx_hash),
        "The note is spent now; you can delete it.",
        private=True,
        kind="ok",
    )


async def _withdrawal_ready(s: Services, user_ref: str, done: MixWithdrawal) -> None:
    """The relay's result as a private withdrawal_ready DM as well: a chat answer can be lost (a relay outlasting the
    platform's reply window, a group it was refused in), the outbox is delivered until it arrives. Keyed by the
    withdrawal's transaction, so it is queued once per withdrawal. Never the note."""
    body = Reply.of(
        ("💸 Your withdrawal is on chain: ", bold(str(done.received)), " received at ", code(done.recipient),
         f" (relayer fee {done.fee})."),
        _tx(s, done.tx_hash),
        private=True,
        kind="ok",
    )
    try:
        async with s.uow() as uow:
            await uow.outbox.add(Notification(f"withdrawal:{done.tx_hash}", user_ref, NotificationType.WITHDRAWAL_READY,
                                              dumps(body), s.clock.now()))
            await uow.commit()
    except TransientError:  # the funds moved all the same: the chat answer says so, only this copy is lost
        log.warning("withdrawal_ready for %s not queued: database unavailable", done.tx_hash)
        return
    s.notify_soon()


def _deposit_intent(s: Services, cmd: Mix, note: MixNote) -> Intent:
    """A treasury payment to the pool that deposits the note's commitment (public) and nothing of the note."""
    now = s.clock.now()
    return Intent(id=new_id("mix"), key=cmd.key, actor_ref=cmd.actor.ref, recipient=note.pool,
                  token=cmd.amount.token.symbol, amount=cmd.amount.units, intent_hash=new_intent_hash(),
                  created_at=now, updated_at=now, memo="mixer deposit", mixer_commitment=note.commitment)


async def _cancel(s: Services, intent_id: str) -> None:
    async with s.uow() as uow:
        intent = await uow.intents.get(intent_id, for_update=True)
        if intent is not None and intent.status is IntentStatus.PENDING:
            intent.move(IntentStatus.CANCELLED, s.clock.now())
            await uow.intents.save(intent)
            await uow.commit()


async def _save_reply(s: Services, record: ProcessedKey, reply: Reply) -> None:
    async with s.uow() as uow:
        stored = await uow.keys.get(record.key)
        if stored is not None:
            stored.reply = dumps(reply)
            await uow.keys.save(stored)
            await uow.commit()


async def announce_deposits(s: Services) -> int:
    """The chain watcher's step: tell each user whose wallet deposit landed its leaf and the pool's size."""
    if s.mixer is None:
        return 0
    landed = await s.mixer.landed()
    if not landed:
        return 0
    now = s.clock.now()
    async with s.uow() as uow:
        for user_ref, deposit in landed:
            reply = Reply.of(
                ("Your deposit is confirmed: leaf #", bold(str(deposit.leaf_index)), "; the pool now holds ",
                 bold(str(deposit.anonymity_set)), " deposits. The more deposits after yours, the harder a "
                 "withdrawal is to link to you."),
                _tx(s, deposit.tx_hash),
                private=True,
                kind="ok",
            )
            await uow.outbox.add(Notification(f"mixdep-{deposit.tx_hash}-{deposit.leaf_index}", user_ref,
                                              NotificationType.DEPOSIT_CONFIRMED, dumps(reply), now))
        await uow.commit()
    s.notify_soon()
    return len(landed)
