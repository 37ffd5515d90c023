"""People named in a payout file (@handle, Discord mention) -> their linked wallets, with /pay's rules."""

from __future__ import annotations

from core.bulk.file import BulkFile, BulkRow, RowError
from core.commands import Actor, Recipient
from core.errors import UserError
from core.services import Services, handle_is_stale, resolve_recipient


async def resolve_people(s: Services, actor: Actor, checked: BulkFile) -> BulkFile:
    """`checked` with every person replaced by their wallet address, or an error on each line naming someone
    who cannot be paid: unknown, not linked, claimed by several accounts, on another platform, or a @handle
    nobody has been seen holding lately (a file gets no per-row confirmation, so /pay's warning is a refusal)."""
    people = {r.recipient for r in checked.valid if not r.recipient.startswith("0x")}
    if not people:
        return checked
    found: dict[str, str | RowError] = {}
    now = s.clock.now()
    async with s.uow() as uow:
        for who in sorted(people):
            recipient = (Recipient(handle=who[1:]) if who.startswith("@") else
                         Recipient(name=who.removeprefix("payee:")) if who.startswith("payee:") else Recipient(user_ref=who))
            try:
                payee = await resolve_recipient(uow, recipient, platform=actor.platform)
            except UserError as e:
                found[who] = RowError(0, _as_recipient(e.message))
                continue
            if handle_is_stale(s.policy, payee, now):
                days = s.policy.handle_fresh_for.days
                found[who] = RowError(0, f"recipient: {who} has not been seen holding that handle in the last {days} "
                                         "days, and handles change hands; use their address or a mention")
            else:
                found[who] = payee.address
    valid: list[BulkRow] = []
    errors = list(checked.errors)
    for row in checked.valid:
        got = found.get(row.recipient, row.recipient)
        if isinstance(got, RowError):
            errors.append(RowError(row.line, got.error))
        else:
            valid.append(BulkRow(row.line, got, row.token, row.amount, row.memo))
    return checked.with_rows(valid, errors)


def _as_recipient(message: str) -> str:
    """resolve_recipient speaks of /pay's "address" argument; in a file it is the recipient column."""
    return "recipient: " + message.removeprefix("address: ")
