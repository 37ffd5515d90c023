"""The chat commands of escrowed intents: /pay by a member (or with a price condition), /deposit, /release, and
/cancel, /status of an "int-…" id."""

from __future__ import annotations

import secrets
from dataclasses import replace

from core.commands import Cancel, Deposit, Pay, Release, Status
from core.errors import ChainUnavailable, NotAllowed, UserError
from core.escrow import settle
from core.escrow.conditions import read_terms
from core.escrow.model import EscrowIntent, EscrowStatus
from core.escrow.notices import funded_text, units
from core.escrow.ports import EscrowChain, EscrowTerms, OnChain
from core.escrow.views import buttons, detail_lines, funding, price_line
from core.model import ProcessedKey
from core.money import Token, parse_units
from core.prices import PriceReading
from core.replies import Reply, bold, dumps
from core.services import Services, new_id, resolve_recipient
from core.timezones import zone_of

PREFIX = "int-"
NO_INTENTS = ("Only operators may spend the treasury, and intents (payments you fund from your own wallet, held by "
              "the Settlement until a condition) are not available on this chain. Ask an operator to send it.")


def _escrow(s: Services) -> EscrowChain:
    if s.escrow is None:
        raise NotAllowed(NO_INTENTS)
    return s.escrow


def terms_of(s: Services, intent: EscrowIntent) -> EscrowTerms:
    """The terms the intent's hash commits to (what the funding links name)."""
    return EscrowTerms(s.token(intent.token), intent.recipient, intent.amount, int(intent.expires_at.timestamp()),
                       intent.salt)


async def open_intent(s: Services, cmd: Pay) -> Reply:
    """A member's /pay (or anyone's with a price condition): an intent they fund from their own wallet. Stored
    with the command's key in one transaction; the reply carries the funding link(s) and a QR code of each."""
    escrow = _escrow(s)
    token = s.token(cmd.amount.token.symbol)
    now = s.clock.now()
    async with s.uow() as uow:
        zone = await zone_of(uow, cmd.actor.ref)
        payee = await resolve_recipient(uow, cmd.recipient, platform=cmd.actor.platform)
    if payee.address.lower() in (s.chain.treasury.lower(), s.chain.executor.lower()):
        raise UserError("address: that is the Settlement's or the executor's own address; an intent pays someone "
                        "else.", field="address")
    terms = read_terms(cmd.when, now=now, zone=zone, prices=s.prices, default_expiry=now + s.policy.escrow_expiry)
    on_chain = EscrowTerms(token, payee.address, cmd.amount.units, int(terms.expires_at.timestamp()),
                           "0x" + secrets.token_hex(32))
    intent = EscrowIntent(
        id=new_id("int"), key=cmd.key, actor_ref=cmd.actor.ref, recipient=payee.address, recipient_ref=payee.ref,
        token=token.symbol, amount=cmd.amount.units, salt=on_chain.salt,
        intent_hash=escrow.intent_hash(on_chain).lower(), expires_at=terms.expires_at, created_at=now,
        updated_at=now, condition=terms.condition, due_at=terms.due_at, pair=terms.pair, above=terms.above,
        threshold=terms.threshold, price_decimals=terms.price_decimals,
    )
    links, files = funding(s, intent, escrow.funding_links(on_chain, intent.amount))
    head = f"Intent {intent.id}: you fund it, the Settlement contract holds it, and it pays {payee.who}."
    reply = Reply.of(bold(head), *detail_lines(s, intent, zone, payee=payee.who if payee.named else None), *links,
                     files=files, buttons=buttons(intent, cmd.actor.ref), private=True)
    async with s.uow() as uow:
        await uow.escrows.add(intent)
        await uow.keys.add(ProcessedKey(cmd.key, "pay", cmd.actor.ref, now, reply=dumps(reply)))
        await uow.commit()
    return reply


async def deposit(s: Services, cmd: Deposit) -> Reply:
    """/deposit <id> [amount] [token]: the funding link again, for what is missing or for the amount given."""
    escrow = _escrow(s)
    intent = await _creators(s, cmd.intent_id, cmd.actor.ref, "fund",
                             "only its creator funds it: the contract takes top-ups only from the wallet that funded "
                             "it first")
    if not intent.open or intent.status in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING):
        raise UserError(f"id: {intent.id} is {intent.status.value}; it takes no more funds.", field="id")
    token = s.token(intent.token)
    state = await _held(escrow, intent)
    if state is not None:
        intent = replace(intent, funded=state[0], funder=state[1] or intent.funder)
    missing = intent.amount - intent.funded
    value = _amount(cmd.amount_text, token, intent) if cmd.amount_text else missing
    if value <= 0:
        raise UserError(f"amount: {intent.id} is already fully funded ({funded_text(s, intent)}); nothing to add. "
                        f"Release it with /release {intent.id}, or wait for its condition.", field="amount")
    async with s.uow() as uow:
        zone = await zone_of(uow, cmd.actor.ref)
    links, files = funding(s, intent, escrow.funding_links(terms_of(s, intent), value))
    over = " (more than is missing: the surplus goes back to you when it is paid or cancelled)" if value > max(missing, 0) else ""
    head = f"Fund {units(s, intent, value)} into {intent.id}{over}; {funded_text(s, intent)} so far."
    return Reply.of(bold(head), *detail_lines(s, intent, zone), *links, files=files,
                    buttons=buttons(intent, cmd.actor.ref), private=True)


async def release(s: Services, cmd: Release) -> Reply:
    """/release <id>: its creator pays a fully funded intent now (whatever its condition)."""
    _escrow(s)
    intent = await _creators(s, cmd.intent_id, cmd.actor.ref, "release", "only its creator may release it")
    _refuse_closed(s, intent, "released")
    if intent.status is EscrowStatus.AWAITING:
        raise UserError(f"id: {intent.id} is {funded_text(s, intent)}; it can be released once fully funded. "
                        f"/deposit {intent.id} gives the link for the rest.", field="id")
    return await settle.release(s, intent.id)


async def cancel(s: Services, cmd: Cancel) -> Reply:
    """/cancel int-…: nothing held → cancelled here; something held → refunded to the funder by the executor."""
    escrow = _escrow(s)
    intent = await _creators(s, cmd.ref, cmd.actor.ref, "cancel", "only its creator may cancel it")
    _refuse_closed(s, intent, "cancelled")
    state = await escrow.escrow(intent.intent_hash)  # the contract, not our copy: a deposit may be on its way in
    if (state.status is OnChain.OPEN and state.funded > 0) or intent.funded > 0:
        return await settle.refund(s, intent.id, why="cancelled by its creator")
    async with s.uow() as uow:
        current = await uow.escrows.get(intent.id, for_update=True)
        if current is None or current.status is not EscrowStatus.AWAITING or current.funded > 0:
            raise UserError(f"id: {intent.id} changed just now (it is {(current or intent).status.value}); "
                            f"see /status {intent.id}.", field="id")
        current.move(EscrowStatus.CANCELLED, s.clock.now())
        await uow.escrows.save(current)
        await uow.commit()
        zone = await zone_of(uow, cmd.actor.ref)
    return Reply.of(bold(f"Cancelled {intent.id}. Nothing was funded, so nothing goes back."),
                    *detail_lines(s, current, zone),
                    "Do not use its funding link any more; anything sent to it anyway goes back to the sender "
                    "once it expires.", private=True, kind="ok")


async def status(s: Services, cmd: Status) -> Reply:
    """/status int-…: for its creator and its recipient, in the viewer's time zone."""
    async with s.uow() as uow:
        intent = await uow.escrows.get(cmd.ref)
        zone = await zone_of(uow, cmd.actor.ref)
    if intent is None or cmd.actor.ref not in (intent.actor_ref, intent.recipient_ref):
        raise UserError(f"id: no intent {cmd.ref} of yours was found; /history lists yours.", field="id")
    lines = detail_lines(s, intent, zone)
    if intent.open and intent.pair is not None and s.prices is not None:
        reading: PriceReading | None = None
        try:
            reading = await s.prices.latest(intent.pair)
        except ChainUnavailable:
            pass  # said in the line itself: the feed is not answering
        line = price_line(s, intent, reading, s.clock.now())
        if line is not None:
            lines.insert(2, line)
    kind = "ok" if intent.status is EscrowStatus.RELEASED else "info"
    return Reply.of(*lines, buttons=buttons(intent, cmd.actor.ref), private=True, kind=kind)


async def _creators(s: Services, ref: str, actor_ref: str, verb: str, why: str) -> EscrowIntent:
    """The intent `ref` if `actor_ref` created it; UserError naming the id otherwise."""
    if not ref.startswith(PREFIX):
        raise UserError(f"id: {ref} is not an intent (their ids start with {PREFIX}); /history lists yours.", field="id")
    async with s.uow() as uow:
        intent = await uow.escrows.get(ref)
    if intent is None:
        raise UserError(f"id: no intent {ref} was found; /history lists yours.", field="id")
    if intent.actor_ref != actor_ref:
        raise NotAllowed(f"id: {ref} is someone else's intent, and you cannot {verb} it: {why}.")
    return intent


def _refuse_closed(s: Services, intent: EscrowIntent, verb: str) -> None:
    why = {
        EscrowStatus.RELEASED: f"it was already paid to {intent.recipient}",
        EscrowStatus.REFUNDED: "it was already refunded",
        EscrowStatus.CANCELLED: "it was already cancelled",
        EscrowStatus.RELEASING: "its release is already signed and on its way",
        EscrowStatus.REFUNDING: "its refund is already signed and on its way",
    }.get(intent.status)
    if why is not None:
        raise UserError(f"id: {intent.id} cannot be {verb}: {why}.", field="id")


async def _held(escrow: EscrowChain, intent: EscrowIntent) -> tuple[int, str | None] | None:
    """What the contract holds for it now and who funded it; None when the node is away (our copy is shown)."""
    try:
        state = await escrow.escrow(intent.intent_hash)
    except ChainUnavailable:
        return None
    return (state.funded, state.funder) if state.status is OnChain.OPEN else None


def _amount(text: str, token: Token, intent: EscrowIntent) -> int:
    """"4", "4 USDC" or "4USDC" in the intent's token; a different token is refused, naming both."""
    words = text.split()
    number, symbol = (words[0], words[1] if len(words) > 1 else None)
    if symbol is None:
        digits = number.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        number, symbol = digits, number[len(digits):] or None
    if symbol is not None and symbol.upper() != token.symbol.upper():
        raise UserError(f"token: {intent.id} is paid in {token.symbol}, not {symbol.upper()[:16]}; fund it in "
                        f"{token.symbol}.", field="token")
    return parse_units(number, token)
