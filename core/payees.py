"""Saved payees and payout templates: the team's own names for whom it pays, and how a bare name resolves.

One bot deployment serves one team (one treasury, one set of roles), so payees and templates are team-wide:
a name is unique across the deployment, and a name saved by another bot's team simply does not exist here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from core.commands import Recipient
from core.errors import UsageError, UserError

if TYPE_CHECKING:  # annotations only: core.ports imports this module for the repositories below
    from core.ports import UnitOfWork

# A short word a person types after /pay: lower case, starting like a word (never "0x…", "@…" or a number).
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_MEMO = 200
SHOWN_CANDIDATES = 8


def check_name(word: str, *, what: str = "payee") -> str:
    """`word` as a stored name (lower case), or UsageError(field="name") saying what a name may be."""
    name = word.strip().lower()
    shown = name if len(name) <= 40 else name[:40] + "…"
    if not _NAME.match(name) or name.startswith("0x") or not re.search(r"[a-z]", name):
        raise UsageError(
            f"name: {shown or 'an empty word'} cannot name a {what}; use one short word of letters, digits, _ or - "
            "(up to 32, with at least one letter, not starting with 0x or @), e.g. bob or payroll-eu",
            field="name",
        )
    return name


def looks_like_name(word: str) -> bool:
    """Whether /pay should read `word` as a saved payee's name (it is not an address, @handle or user ref)."""
    try:
        check_name(word)
    except UsageError:
        return False
    return True


@dataclass(frozen=True)
class SavedPayee:
    """A name the team pays by: an address, or a @handle that resolves (on `platform`) when paid."""

    name: str
    address: str | None  # exactly one of address and handle
    handle: str | None
    platform: str  # where it was saved: its @handle means that platform's account
    memo: str | None
    added_by: str
    added_at: datetime

    @property
    def target(self) -> str:
        return self.address or f"@{self.handle}"


@dataclass(frozen=True)
class TemplateRow:
    """One payout of a template: `amount` base units of `token` (a symbol) to a checksummed address."""

    recipient: str
    token: str
    amount: int
    memo: str | None = None


@dataclass(frozen=True)
class PayoutTemplate:
    """A bulk batch's rows kept under a name (`/bulk save <batch> as <name>`), to run again as a new batch."""

    id: str  # "tpl-…": what a schedule keeps (core.bulk.templates.run_template)
    name: str
    source_batch: str
    rows: int
    totals: dict[str, int]  # symbol -> base units
    created_by: str
    created_at: datetime


class PayeeRepository(Protocol):
    """The team's saved payees; a name is UNIQUE (stored lower case)."""

    async def add(self, payee: SavedPayee) -> bool:
        """Store it; False (nothing stored) when the name is taken, also by another process at the same time."""
    async def get(self, name: str) -> SavedPayee | None: ...
    async def starting_with(self, prefix: str, limit: int = 20) -> list[SavedPayee]:
        """Payees whose name starts with `prefix` (lower case), by name."""
    async def all(self) -> list[SavedPayee]: ...  # by name
    async def remove(self, name: str) -> bool: ...  # False: there was none


class TemplateRepository(Protocol):
    """Payout templates and their rows; a name is UNIQUE (stored lower case)."""

    async def add(self, template: PayoutTemplate, rows: list[TemplateRow]) -> bool:
        """Store it with its rows; False (nothing stored) when the name is taken."""
    async def get(self, name: str) -> PayoutTemplate | None: ...
    async def by_id(self, template_id: str) -> PayoutTemplate | None: ...
    async def rows(self, template_id: str) -> list[TemplateRow]: ...  # in the order they were saved
    async def all(self) -> list[PayoutTemplate]: ...  # by name
    async def paying(self, address: str) -> list[PayoutTemplate]:
        """Templates with a row paying `address` (any case), by name."""


def _listed(names: list[str]) -> str:
    more = len(names) - SHOWN_CANDIDATES
    return ", ".join(names[:SHOWN_CANDIDATES]) + (f" and {more} more" if more > 0 else "")


async def recipient_named(uow: UnitOfWork, name: str, *, platform: str) -> Recipient:
    """What a bare word after /pay names: a saved payee (its address, or its @handle), else a @handle of the same
    word on `platform`. Refused (UserError, field "address") when the word is unknown, only starts names, or names
    both a payee and a different person's @handle: a guessed recipient is worse than a question."""
    word = name.lower()
    exact = await uow.payees.get(word)
    holders = await uow.users.by_handle(word, platform=platform)
    if exact is not None:
        if exact.handle is not None and exact.platform != platform:
            raise UserError(
                f"address: the payee {word} is @{exact.handle} on {exact.platform.title()}, and handles resolve only "
                f"there; pay their address from {platform.title()}",
                field="address",
            )
        same = [h for h in holders if (exact.handle is not None and exact.handle == h.handle)
                or (exact.address is not None and (h.wallet or "").lower() == exact.address.lower())]
        if holders and len(same) < len(holders):
            raise UserError(
                f"address: {word} is ambiguous: the saved payee {word} ({exact.target}) and the person @{word} "
                f"({holders[0].ref}); write @{word} for the person, or the payee's address",
                field="address",
            )
        return Recipient(address=exact.address) if exact.address else Recipient(handle=exact.handle)
    alike = [p.name for p in await uow.payees.starting_with(word, SHOWN_CANDIDATES + 1)]
    if alike:
        people = [f"@{word}"] if holders else []
        raise UserError(
            f"address: no payee is named {word}; did you mean {_listed(people + alike)}? Write the whole name "
            "(/payees lists them)",
            field="address",
        )
    if holders:
        return Recipient(handle=word)
    raise UserError(f"address: no payee or @handle named {word}; see /payees, or pay an address", field="address")
