"""Which of a person's live schedules a word names: `/schedule cancel payroll` as well as `/schedule cancel sch-…`."""

from __future__ import annotations

from core.errors import UserError
from core.ports import UnitOfWork
from core.schedules.model import Schedule

SEARCHED = 500  # a person keeps at most SCHEDULE_MAX_PER_USER live schedules, far fewer than this
SHOWN = 8


async def schedule_named(uow: UnitOfWork, word: str, *, owner_ref: str, platform: str) -> Schedule:
    """The one live (active or paused) schedule of `owner_ref` that `word` names: a template schedule's template
    name, or whom it pays (a saved payee's name, or a @handle, as typed or as the person now holds it). UserError
    listing the candidate ids when several match, or the usual "no schedule" when none does."""
    mine = await uow.schedules.listed(owner_ref, SEARCHED)
    handle = word[1:] if word.startswith("@") else None
    name = None if handle is not None else word
    texts = {word} if handle is not None else {word, f"@{word}"}
    addresses: set[str] = set()
    refs: set[str] = set()
    template_ids: set[str] = set()
    if name is not None:
        payee = await uow.payees.get(name)
        if payee is not None:
            if payee.address:
                addresses.add(payee.address.lower())
            if payee.handle:
                texts.add(f"@{payee.handle}")
                refs.update(u.ref for u in await uow.users.by_handle(payee.handle, platform=payee.platform))
        template = await uow.templates.get(name)
        if template is not None:
            template_ids.add(template.id)
    # A bare word also reads as a @handle, as /pay reads it when no payee has that name.
    refs.update(u.ref for u in await uow.users.by_handle(handle or word, platform=platform))
    found = [x for x in mine if _names(x, texts, addresses, refs, template_ids)]
    if not found:
        raise UserError(f"id: no schedule {word} of yours was found; /schedules lists yours.", field="id")
    if len(found) > 1:
        ids = ", ".join(x.id for x in found[:SHOWN]) + (f" and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
        raise UserError(f"id: {word} names {len(found)} of your schedules ({ids}); give the id of one.", field="id")
    return found[0]


def _names(schedule: Schedule, texts: set[str], addresses: set[str], refs: set[str], template_ids: set[str]) -> bool:
    if schedule.template is not None:
        return schedule.template in template_ids
    return (schedule.recipient_text.lower() in texts or schedule.recipient.lower() in addresses
            or (schedule.recipient_ref is not None and schedule.recipient_ref in refs))
