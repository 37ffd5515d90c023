"""How an escrowed intent reads in chat: its terms, funding progress, condition, expiry, funding links and QR codes."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import segno

from core.addresses import short
from core.escrow.model import Condition, EscrowIntent, EscrowStatus
from core.escrow.notices import funded_text, units
from core.pricealerts import ago, show_price, usable
from core.prices import PriceReading
from core.replies import Attachment, Button, Span, bold, code, link
from core.services import Services
from core.views import tx_spans

Line = tuple[str | Span, ...]

MARK: dict[EscrowStatus, str] = {
    EscrowStatus.AWAITING: "⏳ awaiting funds",
    EscrowStatus.FUNDED: "🔒 funded, held by the contract",
    EscrowStatus.RELEASING: "📤 releasing",
    EscrowStatus.RELEASED: "✅ paid",
    EscrowStatus.REFUNDING: "↩️ refunding",
    EscrowStatus.REFUNDED: "↩️ refunded",
    EscrowStatus.CANCELLED: "✖️ cancelled",
}
ONE_WALLET = ("Fund it from one wallet: the contract takes top-ups only from the wallet that funded it first, and "
              "any refund goes back there.")


def when_text(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def condition_text(intent: EscrowIntent, zone: ZoneInfo) -> str:
    if intent.condition is Condition.TIME and intent.due_at is not None:
        return f"paid at {when_text(intent.due_at, zone)}"
    if intent.condition is Condition.PRICE and intent.pair and intent.threshold is not None:
        side = "above" if intent.above else "below"
        return f"paid when {intent.pair} is {side} {show_price(intent.threshold, intent.price_decimals or 0, intent.pair)}"
    return "paid when you release it with /release"


def price_line(s: Services, intent: EscrowIntent, reading: PriceReading | None, now: datetime) -> Line | None:
    """The feed's last reading under a price condition, and why it will not fire while the feed is stale."""
    if intent.condition is not Condition.PRICE or intent.pair is None:
        return None
    if reading is None:
        return (f"The {intent.pair} feed is not answering right now; nothing fires until it does.",)
    shown = show_price(reading.answer, reading.decimals, reading.pair)
    problem = usable(reading, now, s.policy.price_max_age)
    if problem is None:
        return (f"Last {intent.pair} price: {shown} ({ago(now - reading.updated_at)} ago).",)
    if reading.answer <= 0:
        return (f"The {intent.pair} feed answers {reading.answer}, which is not a price, so it will not fire.",)
    return (f"⚠️ The {intent.pair} feed has not updated since {reading.updated_at:%Y-%m-%d %H:%M} UTC (last price "
            f"{shown}), so it will not fire until the feed is fresh again.",)


def detail_lines(s: Services, intent: EscrowIntent, zone: ZoneInfo, *, payee: str | None = None) -> list[Line]:
    """The intent as /status and the creation reply show it (without the links)."""
    to: Line = ("To: ", bold(payee), " at ", code(intent.recipient)) if payee else ("To: ", code(intent.recipient))
    lines: list[Line] = [
        ("Intent ", code(intent.id), f"  {MARK[intent.status]}"),
        ("Pays ", bold(units(s, intent, intent.amount)), f", {condition_text(intent, zone)}."),
        to,
        (bold(funded_text(s, intent)), f" (funder {short(intent.funder)})" if intent.funder else ""),
    ]
    if intent.open:
        lines.append((f"Expires {when_text(intent.expires_at, zone)}: then whatever is held goes back to the funder, "
                      "who can also take it back on chain without the bot.",))
    if intent.tx_hash:
        lines.append(("Tx: ", *tx_spans(s.chain, intent.tx_hash)))
    if intent.note:
        lines.append((f"Note: {intent.note}",))
    if intent.error:
        lines.append((f"Last problem: {intent.error}",))
    return lines


def funding(s: Services, intent: EscrowIntent, links: list[str]) -> tuple[list[Line], tuple[Attachment, ...]]:
    """The EIP-681 links a phone wallet opens (native: one; ERC-20: approve, then fund) and a QR PNG of each."""
    if len(links) == 1:
        lines: list[Line] = [("Fund it from your wallet: ", link("open in wallet", links[0])), (code(links[0]),)]
        names = [f"{intent.id}-fund.png"]
    else:
        lines = [("Fund it from your wallet in two steps:",)]
        names = []
        for n, (step, url) in enumerate(zip(("approve", "fund"), links, strict=False), 1):
            what = f"let the Settlement take the {intent.token}" if step == "approve" else "move it into the intent"
            lines += [(f"{n}. {step} ({what}): ", link(f"open step {n} in wallet", url)), (code(url),)]
            names.append(f"{intent.id}-{n}-{step}.png")
    lines.append((ONE_WALLET,))
    return lines, tuple(Attachment(name, qr_png(url), "image/png") for name, url in zip(names, links, strict=False))


def qr_png(uri: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def buttons(intent: EscrowIntent, viewer_ref: str) -> tuple[Button, ...]:
    if intent.actor_ref != viewer_ref or not intent.open or intent.status in (EscrowStatus.RELEASING, EscrowStatus.REFUNDING):
        return ()
    out: tuple[Button, ...] = ()
    if intent.status is EscrowStatus.FUNDED:
        out += (Button("Release now", f"/release {intent.id}", "primary"),)
    else:
        out += (Button("Funding link", f"/deposit {intent.id}", "primary"),)
    return out + (Button("Cancel", f"/cancel {intent.id}", "danger"),)


def history_line(s: Services, intent: EscrowIntent, viewer_ref: str) -> Line:
    direction = "→" if intent.actor_ref == viewer_ref else "←"
    parts: list[str | Span] = [
        code(intent.id),
        f"  {intent.created_at:%Y-%m-%d %H:%M}  {MARK[intent.status]}  {units(s, intent, intent.amount)} {direction} ",
        code(short(intent.recipient)),
        f"  intent, {funded_text(s, intent)}",
    ]
    if intent.tx_hash:
        parts += ["  tx ", code(intent.tx_hash)]
    return tuple(parts)


def choice(s: Services, intent: EscrowIntent) -> str:
    """An intent where a platform offers ids to pick from (autocomplete)."""
    return f"{intent.id} · {units(s, intent, intent.amount)} · intent {intent.status.value}"
