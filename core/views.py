"""How payments look in chat: one place so /pay, /status, /history and notifications agree."""

from __future__ import annotations

from core.addresses import short
from core.model import Intent, IntentStatus
from core.money import TokenRegistry, format_significant, format_units
from core.ports import Chain
from core.replies import Button, Reply, Span, bold, code, link

STATUS_MARK = {
    IntentStatus.PENDING: "⏳ pending",
    IntentStatus.SUBMITTED: "📤 submitted",
    IntentStatus.CONFIRMED: "✅ confirmed",
    IntentStatus.FAILED: "❌ failed",
    IntentStatus.CANCELLED: "🚫 cancelled",
}


# Chains SnowRail names in chat; any other id is a development chain (anvil, the embedded eth-tester).
CHAIN_NAMES = {25: "Cronos", 338: "Cronos testnet"}


def chain_name(chain_id: int) -> str:
    return CHAIN_NAMES.get(chain_id) or f"local dev chain (id {chain_id})"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 row', '2 rows', '1,000 rows': every count in a reply goes through here so singulars stay singular."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def network_fee(tokens: TokenRegistry, units: int) -> str:
    """A network fee paid, for chat: at most 6 significant digits (the exact figure stays in the database)."""
    return f"{format_significant(units, tokens.native.decimals)} {tokens.native.symbol}"


def estimated_fee(tokens: TokenRegistry, gas: int, fee_per_gas: int) -> str:
    """What `gas` may cost at `fee_per_gas` (the most a transaction signed now offers per gas), for chat:
    rounded up to 6 decimals, since an estimate needs no more and should not read below the real cost."""
    native = tokens.native
    step = 10 ** max(native.decimals - 6, 0)
    return f"~{format_units(-(-gas * fee_per_gas // step) * step, native.decimals)} {native.symbol}"


def amount_text(chain: Chain, intent: Intent) -> str:
    token = chain.tokens.get(intent.token)
    return f"{format_units(intent.amount, token.decimals)} {token.symbol}"


def payment_choice(chain: Chain, intent: Intent) -> str:
    """A payment where a platform offers ids to pick from (autocomplete): id, amount, status."""
    return f"{intent.id} · {amount_text(chain, intent)} · {intent.status.value}"


def tx_spans(chain: Chain, tx_hash: str) -> tuple[Span, ...]:
    url = chain.explorer_url(tx_hash)
    return (code(tx_hash),) + ((Span(" "), link("explorer", url)) if url else ())


def intent_detail(chain: Chain, intent: Intent, *, headline: str | None = None, payee: str | None = None) -> Reply:
    """`payee`: who the payer named, e.g. "@alice (telegram:123)", shown beside the address it resolved to."""
    lines: list[tuple[Span | str, ...]] = []
    if headline:
        lines.append((bold(headline),))
    lines.append(("Payment ", code(intent.id), f"  {STATUS_MARK[intent.status]}"))
    lines.append(("Amount: ", bold(amount_text(chain, intent))))
    lines.append(("To: ", bold(payee), " at ", code(intent.recipient)) if payee else ("To: ", code(intent.recipient)))
    never_mined = intent.status is IntentStatus.FAILED and intent.block_number is None
    if intent.tx_hash:
        lines.append(("Signed tx (never mined): " if never_mined else "Tx: ", *tx_spans(chain, intent.tx_hash)))
    if intent.fee is not None and intent.status is IntentStatus.CONFIRMED:
        lines.append((f"Network fee: {network_fee(chain.tokens, intent.fee)}",))
    if intent.error:
        lines.append((_error_line(intent),))
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


def _error_line(intent: Intent) -> str:
    if intent.status is IntentStatus.SUBMITTED:  # why it is not on chain yet; reconcile keeps sending it
        return f"Waiting: {intent.error}. It stays signed and is sent again automatically."
    if intent.status is IntentStatus.CONFIRMED:
        return f"Note: {intent.error}"
    return f"Reason: {intent.error}"


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
