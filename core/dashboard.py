"""What the web dashboard decides: who may see which page, the ledger's filters and cursor, and its storage port."""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from core.bulk.model import Batch
from core.errors import UserError
from core.ledger import Outflow, OutflowStatus
from core.model import Notification
from core.roles import Role

PAGE_SIZE = 50  # ledger rows per page
MOST_DAYS = 366  # a wider date range is refused: "all of time" is the CSV export's job, not a page's
CHART_DAYS = 30
CSV_CHUNK = 5000  # rows read per query while streaming the CSV export (memory stays flat)


@dataclass(frozen=True)
class WebAccess:
    """The dashboard's settings: where it is served (links point there), the key that signs its links and session
    cookies (WEB_SECRET), and how long a session lasts (WEB_SESSION_HOURS)."""

    base_url: str
    secret: bytes
    session_hours: int = 12

    @property
    def secure(self) -> bool:
        """Served over HTTPS (directly or behind a proxy): the session cookie is then Secure."""
        return self.base_url.lower().startswith("https://")

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class Page(str, enum.Enum):
    TREASURY = "treasury"
    LEDGER = "ledger"
    BATCHES = "batches"
    APPROVALS = "approvals"
    SCHEDULES = "schedules"
    INTENTS = "intents"
    NOTIFICATIONS = "notifications"
    AUDIT = "audit"


# Members see their own payments (the ledger narrowed to them), intents, schedules and notifications; operators,
# approvers and admins the treasury; admins also roles and the audit log.
_TREASURY_PAGES = frozenset({Page.TREASURY, Page.BATCHES, Page.APPROVALS})


def may_see(role: Role, page: Page) -> bool:
    if page is Page.AUDIT:
        return role.may_manage
    if page in _TREASURY_PAGES:
        return role is not Role.MEMBER
    return True


def sees_everyone(role: Role) -> bool:
    """Whether the ledger, schedules and intents show the whole team's, or only the viewer's own."""
    return role is not Role.MEMBER


def pages_for(role: Role) -> list[Page]:
    return [p for p in Page if may_see(role, p)]


@dataclass(frozen=True)
class LedgerFilter:
    """The ledger's filters. `since`/`until`: a half-open range of times; `person`: who asked (an actor ref)."""

    since: datetime | None = None
    until: datetime | None = None
    token: str | None = None
    person: str | None = None
    status: OutflowStatus | None = None

    def query(self) -> dict[str, str]:
        """As the page's query string, so a link or a CSV export keeps the same filter."""
        out = {"from": self.since.date().isoformat() if self.since else "",
               "to": (self.until - timedelta(days=1)).date().isoformat() if self.until else "",
               "token": self.token or "", "person": self.person or "", "status": self.status.value if self.status else ""}
        return {k: v for k, v in out.items() if v}


def _day(params: Mapping[str, str], name: str) -> date | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{name}: {text[:40]!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01",
                        field=name) from None


def parse_filter(params: Mapping[str, str], *, tokens: frozenset[str]) -> LedgerFilter:
    """The ledger's filters from a query string; UserError naming the field for anything malformed."""
    start, end = _day(params, "from"), _day(params, "to")
    if start and end and end < start:
        raise UserError("to: the end date is before the start date", field="to")
    if start and end and (end - start).days >= MOST_DAYS:
        raise UserError(f"to: a range of {(end - start).days + 1} days is too wide for a page; pick at most "
                        f"{MOST_DAYS} days, or export the CSV", field="to")
    token = params.get("token", "").strip().upper() or None
    if token is not None and token not in tokens:
        raise UserError(f"token: {token[:20]!r} is not a token of this chain; choose one of "
                        f"{', '.join(sorted(tokens))}", field="token")
    status_text = params.get("status", "").strip().lower()
    try:
        status = OutflowStatus(status_text) if status_text else None
    except ValueError:
        raise UserError(f"status: {status_text[:20]!r} is not a status; choose one of "
                        f"{', '.join(s.value for s in OutflowStatus)}", field="status") from None
    person = params.get("person", "").strip() or None
    if person is not None and (len(person) > 128 or ":" not in person):
        raise UserError("person: write who asked as platform:id, e.g. telegram:12345", field="person")
    return LedgerFilter(
        since=datetime.combine(start, time(), UTC) if start else None,
        until=datetime.combine(end + timedelta(days=1), time(), UTC) if end else None,
        token=token, person=person, status=status,
    )


@dataclass(frozen=True)
class Cursor:
    """Where a ledger page ends: the last outflow's sort key (core.ledger.Outflow.order). The next page starts
    strictly after it, newest first, so pages stay consistent while new payments arrive."""

    at: datetime
    batch_id: str
    line: int
    id: str

    @classmethod
    def after(cls, outflow: Outflow) -> Cursor:
        return cls(outflow.at, outflow.batch_id or "", outflow.line, outflow.id)

    def encode(self) -> str:
        text = f"{self.at.isoformat()}|{self.batch_id}|{self.line}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            at, batch_id, line, outflow_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split("|")
            moment = datetime.fromisoformat(at)
            return cls(moment if moment.tzinfo else moment.replace(tzinfo=UTC), batch_id, int(line), outflow_id)
        except (ValueError, UnicodeDecodeError):
            raise UserError("after: that page link is damaged; go back to the first page", field="after") from None


class LedgerPart(str, enum.Enum):
    """The ledger's two sources, each with its own index: read apart, they merge without re-reading either."""

    PAYMENTS = "payments"  # payments and mixer deposits (intents)
    BULK = "bulk"  # rows of executed bulk batches


@dataclass(frozen=True)
class DaySpend:
    day: date
    token: str
    amount: int  # base units, paid or being paid that day


class WebRepository(Protocol):
    """What only the dashboard reads or writes: used sign-in links, the ledger page by page, spending per day,
    and each person's notifications with how far they have read."""

    async def use_link(self, link_id: str, user_ref: str, used_at: datetime, expires_at: datetime) -> None:
        """Record that the sign-in link was followed; raises DuplicateKey (on flush or commit) if it was already."""

    async def link_used(self, link_id: str) -> bool: ...

    async def ledger_page(self, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        """Outflows matching `where`, newest first (core.ledger.Outflow.order), strictly older than `after`."""

    async def ledger_part(self, part: LedgerPart, where: LedgerFilter, after: Cursor | None, limit: int) -> list[Outflow]:
        """As ledger_page, from one source only (the CSV export merges the two as it streams)."""

    async def batches(self, limit: int) -> list[Batch]:
        """Every person's bulk batches, newest first."""

    async def spending(self, since: datetime) -> list[DaySpend]:
        """Outflows that were not failed, since then, summed per UTC day and token."""

    async def notifications(self, user_ref: str, limit: int) -> list[Notification]:
        """The person's notifications, newest first."""

    async def read_until(self, user_ref: str) -> datetime | None:
        """Up to when the person has read their notifications (None: nothing read yet)."""

    async def mark_read(self, user_ref: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class Bar:
    """One bar of the spending chart, in the SVG's own pixel units (ints: no float near money)."""

    x: int
    y: int
    height: int
    day: date
    amount: int  # base units


def chart_days(today: date) -> list[date]:
    return [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]


def chart_bars(spends: list[DaySpend], token: str, days: list[date], *, width: int, height: int) -> list[Bar]:
    """Bars for one token's spending over `days`, scaled to the tallest day."""
    per_day = {s.day: s.amount for s in spends if s.token == token}
    top = max(per_day.values(), default=0) or 1
    step = width // len(days)
    bars = []
    for i, day in enumerate(days):
        amount = per_day.get(day, 0)
        h = height * amount // top
        bars.append(Bar(i * step, height - h, h, day, amount))
    return bars
