"""/ledger: every treasury outflow (payments, bulk rows, mixer deposits) for the team, in chat or as a CSV file."""

from __future__ import annotations

from core.addresses import short
from core.bulk.views import csv_bytes
from core.commands import Ledger
from core.errors import NotAllowed
from core.ledger import Outflow, OutflowStatus
from core.money import TokenRegistry, format_units
from core.replies import Attachment, Button, Reply, Span, bold, code
from core.roles import Role, role_of
from core.services import Services
from core.views import counted

REFUSAL = ("Only admins, approvers and operators can read the treasury ledger; you are a member. "
           "/history shows the payments you sent and received.")

MARK = {OutflowStatus.PAID: "✅ paid", OutflowStatus.SENDING: "📤 sending", OutflowStatus.FAILED: "❌ failed"}

# The export, one outflow a line, oldest first (an accountant reads a ledger forwards). `amount_units` is exact
# base units; `amount` the same in whole tokens (decimal text, never a float); `time` ISO 8601 UTC.
COLUMNS = ["time", "kind", "id", "batch", "token", "amount_units", "amount", "recipient", "requester", "status",
           "tx_hash", "memo"]


async def ledger(s: Services, cmd: Ledger) -> Reply:
    role = cmd.actor.role if cmd.actor.role is not None else await role_of(s, cmd.actor)
    if role is Role.MEMBER:
        raise NotAllowed(REFUSAL)
    tokens = s.chain.tokens
    async with s.uow() as uow:
        found = await uow.ledger.outflows(None if cmd.export else cmd.limit, cmd.token)
    of = f" of {cmd.token}" if cmd.token else ""
    if cmd.export:
        stamp = s.clock.now().strftime("%Y%m%d-%H%M")
        name = f"ledger-{cmd.token.lower() + '-' if cmd.token else ''}{stamp}.csv"
        rows = (export_row(o, tokens) for o in reversed(found))
        return Reply.of(f"The treasury ledger{of}: {counted(len(found), 'outflow')}, oldest first, in {name}.",
                        files=(Attachment(name, csv_bytes(COLUMNS, rows)),), private=True)
    if not found:
        return Reply.of(f"No treasury outflows{of} yet.", private=True)
    head = f"Treasury ledger{of}: the last {len(found):,} outflows, newest first" if len(found) > 1 else \
        f"Treasury ledger{of}: the last outflow"
    lines: list[tuple[str | Span, ...]] = [(bold(head),)]
    lines += [chat_line(o, tokens) for o in found]
    paid = _totals([o for o in found if o.status is OutflowStatus.PAID], tokens)
    lines.append((f"Paid in these: {paid}.",))
    export = "/ledger export" + (f" {cmd.token}" if cmd.token else "")
    return Reply.of(*lines, buttons=(Button("Export CSV", export, "secondary"),), private=True)


def _decimals(tokens: TokenRegistry, symbol: str) -> int | None:
    """None for a token this chain's registry no longer lists (TOKENS changed): its amounts stay in base units."""
    return next((t.decimals for t in tokens if t.symbol == symbol), None)


def amount_text(units: int, symbol: str, tokens: TokenRegistry) -> str:
    decimals = _decimals(tokens, symbol)
    return f"{format_units(units, decimals)} {symbol}" if decimals is not None else f"{units} base units of {symbol}"


def chat_line(o: Outflow, tokens: TokenRegistry) -> tuple[str | Span, ...]:
    parts: list[str | Span] = [
        f"{o.at:%Y-%m-%d %H:%M}  {MARK[o.status]}  {o.kind.value}  ", code(o.id),
        f"  {amount_text(o.amount, o.token, tokens)} → ", code(short(o.recipient)), f"  by {o.requester}",
    ]
    if o.tx_hash:
        parts += ["  tx ", code(short(o.tx_hash))]
    return tuple(parts)


def export_row(o: Outflow, tokens: TokenRegistry) -> list[object]:
    decimals = _decimals(tokens, o.token)
    human = format_units(o.amount, decimals) if decimals is not None else ""
    return [o.at.isoformat(), o.kind.value, o.id, o.batch_id or "", o.token, o.amount, human,
            o.recipient, o.requester, o.status.value, o.tx_hash or "", o.memo or ""]


def _totals(found: list[Outflow], tokens: TokenRegistry) -> str:
    totals: dict[str, int] = {}
    for o in found:
        totals[o.token] = totals.get(o.token, 0) + o.amount
    return " · ".join(amount_text(u, t, tokens) for t, u in sorted(totals.items())) or "nothing"
