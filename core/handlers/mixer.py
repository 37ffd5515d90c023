"""The privacy pool in chat: /mix makes a note (and, for operators, deposits it), /withdraw relays it."""

from __future__ import annotations

from core.addresses import short
from core.commands import Mix, Withdraw
from core.errors import UserError
from core.model import Notification, NotificationType, ProcessedKey
from core.ports import Mixer
from core.replies import Attachment, Button, Reply, bold, code, dumps, link
from core.services import Services, log

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
        raise UserError("The privacy pool is not available yet on this bot: no pool is configured.")
    return s.mixer


def _tx(s: Services, tx_hash: str) -> tuple:
    url = s.chain.explorer_url(tx_hash)
    return ("Transaction ", link(short(tx_hash), url) if url else code(tx_hash))


async def mix(s: Services, cmd: Mix) -> Reply:
    """Records the key first (with a reply that holds no note), so a repeated message never deposits twice."""
    mixer = _mixer(s)
    note = mixer.new_note(cmd.amount)
    record = ProcessedKey(cmd.key, "mix", cmd.actor.ref, s.clock.now(), reply=dumps(_REPEAT))
    async with s.uow() as uow:
        await uow.keys.add(record)
        await uow.commit()

    lines: list = [("Your note for ", bold(str(cmd.amount)), ":"), (code(note.text),), _LOSS_WARNING]
    buttons: tuple[Button, ...] = ()
    files: tuple[Attachment, ...] = ()
    if s.policy.is_operator(cmd.actor):
        try:
            deposit = await mixer.deposit(note.commitment, cmd.amount)
        except UserError as e:
            # The pool refused before anything was deposited, so the note is worthless: do not hand it out.
            failed = Reply.error(f"The deposit into the {cmd.amount} pool failed: {e.message} Nothing was deposited.")
            await _save_reply(s, record, failed)
            return failed
        except Exception as e:  # noqa: BLE001 - the outcome is unknown: the deposit may still land
            log.warning("mixer deposit for %s unconfirmed: %s", cmd.key, type(e).__name__)
            lines.append("I could not confirm the deposit; it may still go through, so keep this note. If "
                         "/withdraw later says no deposit has this note, nothing was deposited.")
        else:
            lines += [
                (f"Deposited {cmd.amount} from the bot's mixer wallet: leaf #{deposit.leaf_index}; the pool now holds ",
                 bold(str(deposit.anonymity_set)), " deposits."),
                _tx(s, deposit.tx_hash),
            ]
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
    done = await mixer.withdraw(cmd.note, cmd.address)
    return Reply.of(
        ("Withdrawn: ", bold(str(done.received)), " sent to ", code(done.recipient),
         f" (relayer fee {done.fee}). The pool holds {done.anonymity_set} deposits."),
        _tx(s, done.tx_hash),
        "The note is spent now; you can delete it.",
        private=True,
        kind="ok",
    )


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
