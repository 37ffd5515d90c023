"""How payments look in chat: one place so /pay, /status, /history and notifications agree."""

from __future__ import annotations

from core.addresses import short
from core.model import Intent, IntentStatus
from core.money import format_units
from core.ports import Chain
from core.replies import Button, Reply, Span, bold, code, link

STATUS_MARK = {
    IntentStatus.PENDING: "⏳ pending",
    IntentStatus.SUBMITTED: "📤 submitted",
    IntentStatus.CONFIRMED: "✅ confirmed",
    IntentStatus.FAILED: "❌ failed",
    IntentStatus.CANCELLED: "🚫 cancelled",
}


def amount_text(chain: Chain, intent: Intent) -> str:
    token = chain.tokens.get(intent.token)
    return f"{format_units(intent.amount, token.decimals)} {token.symbol}"


def tx_spans(chain: Chain, tx_hash: str) -> tuple[Span, ...]:
    url = chain.explorer_url(tx_hash)
    return (code(tx_hash),) + ((Span(" "), link("explorer", url)) if url else ())


def intent_detail(chain: Chain, intent: Intent, *, headline: str | None = None) -> Reply:
    lines: list[tuple[Span | str, ...]] = []
    if headline:
        lines.append((bold(headline),))
    lines.append(("Payment ", code(intent.id), f"  {STATUS_MARK[intent.status]}"))
    lines.append(("Amount: ", bold(amount_text(chain, intent))))
    lines.append(("To: ", code(intent.recipient)))
    if intent.tx_hash:
        lines.append(("Tx: ", *tx_spans(chain, intent.tx_hash)))
    if intent.fee is not None and intent.status is IntentStatus.CONFIRMED:
        lines.append((f"Network fee: {format_units(intent.fee, 18)} {chain.tokens.native.symbol}",))
    if intent.error:
        lines.append((f"Reason: {intent.error}",))
    buttons: tuple[Button, ...] = ()
    if intent.status is IntentStatus.PENDING:
        buttons = (
            Button("Confirm payment", f"/confirm {intent.id}", "primary"),
            Button("Cancel", f"/cancel {intent.id}", "danger"),
        )
    url = chain.explorer_url(intent.tx_hash) if intent.tx_hash else None
    if url:
        buttons += (Button("View on explorer", url=url),)
    kind = "error" if intent.status is IntentStatus.FAILED else "ok" if intent.status is IntentStatus.CONFIRMED else "info"
    return Reply.of(*lines, buttons=buttons, kind=kind)


def history_line(chain: Chain, intent: Intent, viewer_ref: str) -> tuple[Span | str, ...]:
    direction = "→" if intent.actor_ref == viewer_ref else "←"
    when = intent.created_at.strftime("%Y-%m-%d %H:%M")
    parts: list[Span | str] = [
        code(intent.id),
        f"  {when}  {STATUS_MARK[intent.status]}  {amount_text(chain, intent)} {direction} ",
        code(short(intent.recipient)),
    ]
    if intent.tx_hash:
        parts += ["  tx ", code(intent.tx_hash)]
    return tuple(parts)
