"""Hand-written fakes for the core's ports: an in-memory database, a scripted chain, a clock, a notifier."""

from __future__ import annotations

import asyncio
import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from core.bulk.model import Batch, BatchRow, Chunk, ChunkStatus, RowStatus
from core.bulk.ports import BatchRepository, UploadCounts
from core.dashboard import WebRepository
from core.escrow.model import Condition, EscrowIntent, EscrowStatus
from core.escrow.repository import CursorRepository, EscrowRepository
from core.errors import ChainRejected, ChainUnavailable, UserError
from core.jobs import Job
from core.commands import Actor
from core.ledger import LedgerRepository, Outflow, OutflowKind, OutflowStatus
from core.model import ApprovalRequest, ApprovalStatus, Attempt, AuditEntry, Intent, IntentStatus, LinkChallenge, Notification, ProcessedKey, Receipt, Spend, User, Vote
from core.money import Token, TokenRegistry
from core.pricealerts import MOST_PER_PASS, PriceAlert, PriceAlertRepository
from core.ports import (
    ApprovalRepository,
    AuditRepository,
    Chain,
    ChallengeRepository,
    ChatEngine,
    Clock,
    Delivery,
    DuplicateKey,
    ExecutorAllowance,
    IntentRepository,
    JobQueue,
    KeyRepository,
    NonceRepository,
    Notifier,
    OutboxRepository,
    PaymentOrder,
    RoleRepository,
    SignedTx,
    UnitOfWorkFactory,
    UserRepository,
)
from core.replies import Reply
from core.roles import RoleGrant
from core.schedules.model import Occurrence, Schedule
from core.schedules.repository import ScheduleRepository
from tests.fake_schedules import FakeSchedules
from tests.fake_payees import FakePayees, FakeTemplates
from tests.fake_web import FakeWeb
from core.payees import PayeeRepository, PayoutTemplate, SavedPayee, TemplateRepository, TemplateRow


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@dataclass
class _Store:
    users: dict[str, User] = field(default_factory=dict)
    intents: dict[str, Intent] = field(default_factory=dict)
    outbox: list[Notification] = field(default_factory=list)
    outbox_claims: dict[int | None, datetime] = field(default_factory=dict)  # notification id -> claimed until
    keys: dict[str, ProcessedKey] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    nonces: dict[tuple[int, str], int] = field(default_factory=dict)
    challenges: dict[str, LinkChallenge] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    batches: dict[str, Batch] = field(default_factory=dict)
    batch_rows: dict[str, list[BatchRow]] = field(default_factory=dict)
    next_row_id: int = 0  # bulk row ids are handed out in whole 256-row words, as the SQL repository does
    chunks: dict[tuple[str, int], Chunk] = field(default_factory=dict)
    uploads: dict[tuple[str, str, datetime], tuple[int, int]] = field(default_factory=dict)
    roles: dict[str, RoleGrant] = field(default_factory=dict)
    approval_requests: dict[str, ApprovalRequest] = field(default_factory=dict)
    votes: list[Vote] = field(default_factory=list)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    occurrences: dict[tuple[str, datetime], Occurrence] = field(default_factory=dict)  # UNIQUE (schedule, due)
    price_alerts: dict[str, PriceAlert] = field(default_factory=dict)
    escrows: dict[str, EscrowIntent] = field(default_factory=dict)
    cursors: dict[str, int] = field(default_factory=dict)
    payees: dict[str, SavedPayee] = field(default_factory=dict)  # by name (lower case)
    templates: dict[str, tuple[PayoutTemplate, list[TemplateRow]]] = field(default_factory=dict)  # by id
    web_links: set[str] = field(default_factory=set)  # sign-in links followed (core.signin)
    web_reads: dict[str, datetime] = field(default_factory=dict)  # user ref -> notifications read up to


class FakeDatabase:
    def __init__(self) -> None:
        self.store = _Store()
        self.down = False
        self.refused = 0  # units of work refused while down: a test waits for one instead of a guessed pause
        self.locks: set[str] = set()  # names held by open units of work (try_lock)

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def table(self, name: str) -> object:
        return getattr(self.store, name, {})


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> _Store:
        assert self.uow.work is not None, "a repository used outside its unit of work"
        return self.uow.work


class _Users(_Repo):
    async def get(self, ref: str) -> User | None:
        return copy.deepcopy(self.s.users.get(ref))

    async def upsert(self, user: User) -> User:
        if user.handle:  # the previous holder of this handle on this platform loses it
            for other in self.s.users.values():
                if other.ref != user.ref and other.platform == user.platform and (other.handle or "").lower() == user.handle.lower():
                    other.handle, other.handle_seen_at = None, None
        cur = self.s.users.get(user.ref)
        if cur is None:
            self.s.users[user.ref] = copy.deepcopy(user)
        else:
            cur.display_name, cur.handle, cur.handle_seen_at = user.display_name, user.handle, user.handle_seen_at
        return copy.deepcopy(self.s.users[user.ref])

    async def by_handle(self, handle: str, platform: str | None = None) -> list[User]:
        return [copy.deepcopy(u) for u in self.s.users.values() if u.handle == handle.lower() and (platform is None or u.platform == platform)]

    async def by_wallet(self, address: str) -> list[User]:
        return [copy.deepcopy(u) for u in self.s.users.values() if u.wallet and u.wallet.lower() == address.lower()]

    async def by_wallets(self, addresses: list[str]) -> list[User]:
        wanted = {a.lower() for a in addresses}
        found = [u for u in self.s.users.values() if u.wallet and u.wallet.lower() in wanted]
        return [copy.deepcopy(u) for u in sorted(found, key=lambda u: u.ref)]

    async def save(self, user: User) -> None:
        self.s.users[user.ref] = copy.deepcopy(user)


class _Intents(_Repo):
    async def add(self, intent: Intent) -> None:
        if intent.id in self.s.intents:
            raise DuplicateKey(intent.id)
        self.s.intents[intent.id] = copy.deepcopy(intent)

    async def get(self, intent_id: str, *, for_update: bool = False) -> Intent | None:
        return copy.deepcopy(self.s.intents.get(intent_id))

    async def save(self, intent: Intent) -> None:
        self.s.intents[intent.id] = copy.deepcopy(intent)

    async def for_actor(self, actor_ref: str, limit: int) -> list[Intent]:
        mine = [i for i in self.s.intents.values() if actor_ref in (i.actor_ref, i.recipient_ref)]
        return [copy.deepcopy(i) for i in sorted(mine, key=lambda i: i.created_at, reverse=True)[:limit]]

    async def with_status(self, status: IntentStatus, limit: int = 1000) -> list[Intent]:
        return [copy.deepcopy(i) for i in self.s.intents.values() if i.status is status][:limit]

    async def in_flight(self, token: str) -> int:
        return sum(i.amount for i in self.s.intents.values() if i.status is IntentStatus.SUBMITTED and i.token == token)

    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        counted = (IntentStatus.PENDING, IntentStatus.SUBMITTED, IntentStatus.CONFIRMED)
        mine = [i for i in self.s.intents.values() if i.actor_ref == actor_ref and i.created_at >= since and i.status in counted]
        return [Spend(i.token, i.amount, i.created_at) for i in sorted(mine, key=lambda i: i.created_at)]

    async def add_attempt(self, attempt: Attempt) -> None:
        if any(a.tx_hash == attempt.tx_hash for a in self.s.attempts):
            raise DuplicateKey(attempt.tx_hash)
        self.s.attempts.append(attempt)

    async def attempts(self, intent_id: str) -> list[Attempt]:
        return [a for a in self.s.attempts if a.intent_id == intent_id]


class _Outbox(_Repo):
    _ids = itertools.count(1)

    async def add(self, n: Notification) -> None:
        if any(o.dedup_key == n.dedup_key for o in self.s.outbox):
            return
        n = copy.deepcopy(n)
        n.id = next(self._ids)
        self.s.outbox.append(n)

    async def pending(self, limit: int = 100) -> list[Notification]:
        return [copy.deepcopy(n) for n in self.s.outbox if n.status.value == "pending"][:limit]

    async def claim(self, limit: int, *, now: datetime, until: datetime, platform: str | None = None) -> list[Notification]:
        claims = self.s.outbox_claims  # notification id -> claimed until
        free = [n for n in self.s.outbox if n.status.value == "pending" and claims.get(n.id, now) <= now
                and (platform is None or n.user_ref.startswith(platform + ":"))][:limit]
        for n in free:
            claims[n.id] = until
        return [copy.deepcopy(n) for n in free]

    async def save(self, n: Notification, *, retry_at: datetime | None = None) -> None:
        self.s.outbox = [copy.deepcopy(n) if o.id == n.id else o for o in self.s.outbox]
        if retry_at is not None:
            self.s.outbox_claims[n.id] = retry_at


class _Keys(_Repo):
    async def get(self, key: str) -> ProcessedKey | None:
        return copy.deepcopy(self.s.keys.get(key))

    async def add(self, record: ProcessedKey) -> None:
        if record.key in self.s.keys:
            raise DuplicateKey(record.key)
        self.s.keys[record.key] = copy.deepcopy(record)

    async def save(self, record: ProcessedKey) -> None:
        self.s.keys[record.key] = copy.deepcopy(record)


class _Audit(_Repo):
    async def add(self, entry: AuditEntry) -> None:
        self.s.audit.append(copy.deepcopy(entry))

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        return list(reversed(self.s.audit))[:limit]

    async def since(self, start: datetime | None) -> list[AuditEntry]:
        return [copy.deepcopy(e) for e in self.s.audit if start is None or e.at >= start]


class _Roles(_Repo):
    async def get(self, user_ref: str) -> RoleGrant | None:
        return self.s.roles.get(user_ref)

    async def put(self, grant: RoleGrant) -> None:
        self.s.roles[grant.user_ref] = grant

    async def all(self) -> list[RoleGrant]:
        return sorted(self.s.roles.values(), key=lambda g: g.user_ref)


class _Approvals(_Repo):
    async def add(self, request: ApprovalRequest) -> None:
        if request.intent_id in self.s.approval_requests:
            raise DuplicateKey(request.intent_id)
        self.s.approval_requests[request.intent_id] = copy.deepcopy(request)

    async def get(self, intent_id: str) -> ApprovalRequest | None:
        return copy.deepcopy(self.s.approval_requests.get(intent_id))

    async def save(self, request: ApprovalRequest) -> None:
        self.s.approval_requests[request.intent_id] = copy.deepcopy(request)

    async def with_status(self, status: ApprovalStatus, limit: int = 1000) -> list[ApprovalRequest]:
        found = sorted((r for r in self.s.approval_requests.values() if r.status is status), key=lambda r: r.created_at)
        return [copy.deepcopy(r) for r in found[:limit]]

    async def vote(self, vote: Vote) -> bool:
        if any(v.intent_id == vote.intent_id and v.approver_ref == vote.approver_ref for v in self.s.votes):
            return False
        self.s.votes.append(vote)
        return True

    async def votes(self, intent_id: str) -> list[Vote]:
        return [v for v in self.s.votes if v.intent_id == intent_id]


class _Nonces(_Repo):
    async def reserve(self, chain_id: int, address: str, floor: int) -> int:
        k = (chain_id, address.lower())
        n = max(self.s.nonces.get(k, 0), floor)
        self.s.nonces[k] = n + 1
        return n


class _Challenges(_Repo):
    async def add(self, c: LinkChallenge) -> None:
        self.s.challenges[c.id] = copy.deepcopy(c)

    async def latest(self, actor_ref: str) -> LinkChallenge | None:
        mine = [c for c in self.s.challenges.values() if c.actor_ref == actor_ref and not c.used]
        return copy.deepcopy(max(mine, key=lambda c: c.created_at)) if mine else None

    async def save(self, c: LinkChallenge) -> None:
        self.s.challenges[c.id] = copy.deepcopy(c)


class _Batches(_Repo):
    async def add(self, batch: Batch, rows: list[BatchRow]) -> None:
        if batch.id in self.s.batches:
            raise DuplicateKey(batch.id)
        self.s.batches[batch.id] = copy.deepcopy(batch)
        if any(r.row_id is None for r in rows):  # the chain is asked when the batch starts (core.bulk.rowids)
            first = await self.reserve_row_ids(len(rows))
            for i, r in enumerate(rows):
                r.row_id = first + i
        self.s.batch_rows[batch.id] = [copy.deepcopy(r) for r in rows]

    async def reserve_row_ids(self, count: int) -> int:
        first = self.s.next_row_id
        self.s.next_row_id += -(-max(count, 1) // 256) * 256
        return first

    async def skip_row_ids(self, to_at_least: int) -> None:
        self.s.next_row_id = max(self.s.next_row_id, to_at_least)

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        return copy.deepcopy(self.s.batches.get(batch_id))

    async def save(self, batch: Batch) -> None:
        self.s.batches[batch.id] = copy.deepcopy(batch)

    async def with_hash(self, content_hash: str) -> list[Batch]:
        found = [b for b in self.s.batches.values() if b.content_hash == content_hash]
        return [copy.deepcopy(b) for b in sorted(found, key=lambda b: b.created_at, reverse=True)]

    async def for_actor(self, actor_ref: str, limit: int) -> list[Batch]:
        found = [b for b in self.s.batches.values() if b.actor_ref == actor_ref]
        found.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        return [copy.deepcopy(b) for b in found[:limit]]

    async def running(self) -> list[Batch]:
        return [copy.deepcopy(b) for b in self.s.batches.values() if b.status.value == "running"]

    async def committed(self, token: str) -> int:
        running = {b for b, x in self.s.batches.items() if x.status.value == "running"}
        return sum(r.amount for b in running for r in self.s.batch_rows[b] if r.token == token and r.status.value == "pending")

    async def spent_since(self, actor_ref: str, since: datetime) -> list[Spend]:
        out: list[Spend] = []
        for b in self.s.batches.values():
            if b.actor_ref != actor_ref or b.status.value not in ("awaiting", "running", "done"):
                continue
            if b.started_at is None or b.started_at < since:
                continue
            totals: dict[str, int] = {}
            for r in self.s.batch_rows[b.id]:
                if r.status.value in ("pending", "paid"):
                    totals[r.token] = totals.get(r.token, 0) + r.amount
            out += [Spend(token, amount, b.started_at) for token, amount in totals.items()]
        return sorted(out, key=lambda sp: sp.at)

    async def rows(self, batch_id: str, *, status: RowStatus | None = None, chunk: int | None = None,
                   seqs: tuple[int, int] | None = None) -> list[BatchRow]:
        return [copy.deepcopy(r) for r in self.s.batch_rows.get(batch_id, [])
                if (status is None or r.status is status) and (chunk is None or r.chunk == chunk)
                and (seqs is None or seqs[0] <= r.seq < seqs[1])]

    async def save_rows(self, rows: list[BatchRow]) -> None:
        for r in rows:
            self.s.batch_rows[r.batch_id][r.seq] = copy.deepcopy(r)

    async def add_chunks(self, chunks: list[Chunk]) -> None:
        for c in chunks:
            self.s.chunks[(c.batch_id, c.index)] = copy.deepcopy(c)

    async def chunks(self, batch_id: str) -> list[Chunk]:
        return [copy.deepcopy(c) for k, c in sorted(self.s.chunks.items()) if k[0] == batch_id]

    async def chunk(self, batch_id: str, index: int, *, for_update: bool = False) -> Chunk | None:
        return copy.deepcopy(self.s.chunks.get((batch_id, index)))

    async def claim_open_chunks(self, batch_id: str, most: int) -> list[Chunk]:
        return [copy.deepcopy(c) for (b, _), c in sorted(self.s.chunks.items())
                if b == batch_id and c.status is ChunkStatus.OPEN][:most]

    async def stale_chunks(self, batch_id: str, signed_before: datetime) -> list[Chunk]:
        return [copy.deepcopy(c) for (b, _), c in sorted(self.s.chunks.items())
                if b == batch_id and c.status is ChunkStatus.SIGNED and c.signed_at is not None
                and c.signed_at <= signed_before]

    async def save_chunk(self, chunk: Chunk) -> None:
        self.s.chunks[(chunk.batch_id, chunk.index)] = copy.deepcopy(chunk)


_OUTFLOW_OF_INTENT = {"submitted": OutflowStatus.SENDING, "confirmed": OutflowStatus.PAID, "failed": OutflowStatus.FAILED}
_OUTFLOW_OF_ROW = {"pending": OutflowStatus.SENDING, "paid": OutflowStatus.PAID, "failed": OutflowStatus.FAILED}


class _Ledger(_Repo):
    def _all(self) -> list[Outflow]:
        out = [Outflow(i.created_at, OutflowKind.MIXER if i.mixer_commitment else OutflowKind.PAYMENT, i.id, i.token,
                       i.amount, i.recipient, i.actor_ref, _OUTFLOW_OF_INTENT[i.status.value], i.tx_hash, i.memo)
               for i in self.s.intents.values() if i.status.value in _OUTFLOW_OF_INTENT]
        for b in self.s.batches.values():
            if b.started_at is None:
                continue
            out += [Outflow(b.started_at, OutflowKind.BULK, f"{b.id}:{r.line}", r.token, r.amount, r.recipient,
                            b.actor_ref, _OUTFLOW_OF_ROW[r.status.value], r.tx_hash, r.memo, b.id, r.line)
                    for r in self.s.batch_rows.get(b.id, []) if r.status.value in _OUTFLOW_OF_ROW]
        return sorted(out, key=lambda o: o.order, reverse=True)

    async def outflows(self, limit: int | None, token: str | None = None) -> list[Outflow]:
        found = [o for o in self._all() if token is None or o.token == token]
        return found[:limit] if limit is not None else found

    async def received(self, wallet: str, limit: int) -> list[Outflow]:
        return [o for o in self._all() if o.kind is OutflowKind.BULK and o.recipient.lower() == wallet.lower()
                and o.status is not OutflowStatus.FAILED][:limit]


class _Escrows(_Repo):
    async def add(self, intent: EscrowIntent) -> None:
        if any(i.id == intent.id or i.key == intent.key or i.intent_hash == intent.intent_hash for i in self.s.escrows.values()):
            raise DuplicateKey(intent.id)
        self.s.escrows[intent.id] = copy.deepcopy(intent)

    async def get(self, intent_id: str, *, for_update: bool = False) -> EscrowIntent | None:
        return copy.deepcopy(self.s.escrows.get(intent_id))

    async def by_hash(self, intent_hashes: list[str]) -> list[EscrowIntent]:
        wanted = {h.lower() for h in intent_hashes}
        return [copy.deepcopy(i) for i in self.s.escrows.values() if i.intent_hash.lower() in wanted]

    async def save(self, intent: EscrowIntent) -> None:
        self.s.escrows[intent.id] = copy.deepcopy(intent)

    async def for_actor(self, actor_ref: str, limit: int) -> list[EscrowIntent]:
        mine = [i for i in self.s.escrows.values() if actor_ref in (i.actor_ref, i.recipient_ref)]
        return [copy.deepcopy(i) for i in sorted(mine, key=lambda i: (i.created_at, i.id), reverse=True)[:limit]]

    async def with_status(self, statuses: list[EscrowStatus], limit: int = 1000) -> list[EscrowIntent]:
        found = sorted((i for i in self.s.escrows.values() if i.status in statuses), key=lambda i: (i.created_at, i.id))
        return [copy.deepcopy(i) for i in found[:limit]]

    async def due(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        found = [i for i in self.s.escrows.values() if i.status is EscrowStatus.FUNDED and i.condition is Condition.TIME
                 and i.due_at is not None and i.due_at <= now]
        return [copy.deepcopy(i) for i in sorted(found, key=lambda i: (i.due_at or now, i.id))[:limit]]

    async def price_ready(self, pair: str, answer: int, limit: int = 1000) -> list[EscrowIntent]:
        found = [i for i in self.s.escrows.values() if i.status is EscrowStatus.FUNDED and i.condition is Condition.PRICE
                 and i.pair == pair and i.threshold is not None
                 and (i.threshold < answer if i.above else i.threshold > answer)]
        return [copy.deepcopy(i) for i in sorted(found, key=lambda i: (i.created_at, i.id))[:limit]]

    async def expired(self, now: datetime, limit: int = 1000) -> list[EscrowIntent]:
        found = [i for i in self.s.escrows.values() if i.status in (EscrowStatus.AWAITING, EscrowStatus.FUNDED)
                 and i.expires_at <= now]
        return [copy.deepcopy(i) for i in sorted(found, key=lambda i: (i.expires_at, i.id))[:limit]]


class _Cursors(_Repo):
    async def get(self, name: str) -> int | None:
        return self.s.cursors.get(name)

    async def put(self, name: str, block: int) -> None:
        self.s.cursors[name] = block


class _PriceAlerts(_Repo):
    async def add(self, alert: PriceAlert) -> None:
        if alert.id in self.s.price_alerts:
            raise DuplicateKey(alert.id)
        self.s.price_alerts[alert.id] = copy.deepcopy(alert)

    async def get(self, alert_id: str) -> PriceAlert | None:
        return copy.deepcopy(self.s.price_alerts.get(alert_id))

    async def save(self, alert: PriceAlert) -> None:
        self.s.price_alerts[alert.id] = copy.deepcopy(alert)

    async def for_owner(self, owner_ref: str) -> list[PriceAlert]:
        mine = [a for a in self.s.price_alerts.values() if a.owner_ref == owner_ref and a.active]
        return [copy.deepcopy(a) for a in sorted(mine, key=lambda a: (a.created_at, a.id))]

    async def pairs(self) -> list[str]:
        return sorted({a.pair for a in self.s.price_alerts.values() if a.active})

    async def changing(self, pair: str, decimals: int, answer: int, limit: int = MOST_PER_PASS) -> list[PriceAlert]:
        found = [a for a in self.s.price_alerts.values() if a.active and a.pair == pair and a.decimals == decimals
                 and a.on_side is not a.side_of(answer)]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: (a.created_at, a.id))[:limit]]


class _Uploads(_Repo):
    async def add(self, actor_ref: str, window: str, start: datetime, *, files: int = 0, rows: int = 0) -> tuple[int, int]:
        got = self.s.uploads.get((actor_ref, window, start), (0, 0))
        self.s.uploads[(actor_ref, window, start)] = got = (got[0] + files, got[1] + rows)
        return got


class FakeUnitOfWork:
    """Works on a copy of the store; commit() publishes it. Leaving without commit discards it."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.held: set[str] = set()
        self.work: _Store | None = None  # this unit of work's copy of the store, while it is open
        # Typed as the ports, so mypy checks each fake repository against its Protocol.
        self.users: UserRepository = _Users(self)
        self.intents: IntentRepository = _Intents(self)
        self.outbox: OutboxRepository = _Outbox(self)
        self.keys: KeyRepository = _Keys(self)
        self.audit: AuditRepository = _Audit(self)
        self.nonces: NonceRepository = _Nonces(self)
        self.challenges: ChallengeRepository = _Challenges(self)
        self.batches: BatchRepository = _Batches(self)
        self.uploads: UploadCounts = _Uploads(self)
        self.roles: RoleRepository = _Roles(self)
        self.approvals: ApprovalRepository = _Approvals(self)
        self.ledger: LedgerRepository = _Ledger(self)
        self.schedules: ScheduleRepository = FakeSchedules(self)
        self.payees: PayeeRepository = FakePayees(self)
        self.templates: TemplateRepository = FakeTemplates(self)
        self.price_alerts: PriceAlertRepository = _PriceAlerts(self)
        self.escrows: EscrowRepository = _Escrows(self)
        self.cursors: CursorRepository = _Cursors(self)
        self.web: WebRepository = FakeWeb(self)

    async def __aenter__(self) -> FakeUnitOfWork:
        if self.db.down:
            from core.errors import StorageUnavailable

            self.db.refused += 1
            raise StorageUnavailable()
        self.work = copy.deepcopy(self.db.store)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.work = None
        self._release()

    async def commit(self) -> None:
        assert self.work is not None, "commit() outside the unit of work"
        self.db.store = self.work
        self.work = copy.deepcopy(self.db.store)
        self._release()

    async def rollback(self) -> None:
        self.work = copy.deepcopy(self.db.store)
        self._release()

    async def try_lock(self, name: str) -> bool:
        if name in self.db.locks:
            return False
        self.db.locks.add(name)
        self.held.add(name)
        return True

    def _release(self) -> None:
        self.db.locks -= self.held
        self.held.clear()


TREASURY = "0x" + "7e" * 20
EXECUTOR = "0x" + "e1" * 20


class FakeChain:
    """A chain that settles payments and batches instantly, with scripted balances, failures and outages."""

    def __init__(self) -> None:
        self.chain_id = 31337
        self.tokens = TokenRegistry([Token("CRO", 18, native=True), Token("USDC", 6, "0x" + "05" * 20)])
        self.executor, self.treasury = EXECUTOR, TREASURY
        self.balances: dict[tuple[str, str], int] = {(TREASURY.lower(), "CRO"): 100 * 10**18, (TREASURY.lower(), "USDC"): 1_000 * 10**6}
        self.down = False
        self.refused = 0  # calls refused while down: a test waits for one instead of a guessed pause
        self.mine = True
        self.reject: str | None = None
        self.sent: list[bytes] = []
        self.signed: list[tuple[PaymentOrder, int, int]] = []
        self.mined: dict[str, Receipt] = {}
        self.paid: dict[str, int] = {}
        self.paid_tx: dict[str, str] = {}  # intent hash -> the transaction that paid it
        self.paid_rows: set[int] = set()  # bulk row ids executeBatch paid (the contract's bitmap)
        self.row_paid_tx: dict[int, str] = {}  # bulk row id -> the transaction that paid it (its RowsPaid event)
        self.word_reads: list[tuple[int, int]] = []  # used_row_words calls (first, last word): one per batch stored
        self.refuse_broadcast: str | None = None  # the node refuses every broadcast with this reason
        self.front_run = False  # a copy of each authorisation is mined (and pays) just before ours
        self.nonces_used: set[int] = set()  # executor nonces mined by transactions we did not sign
        self._pending: dict[str, PaymentOrder] = {}
        self._nonces: dict[str, int] = {}
        # Batches (executeBatch): `refuse` lists recipients whose payout fails inside a batch.
        self.batch_capacity = 160
        self.refuse: set[str] = set()
        self.batches_signed: list[tuple[list[PaymentOrder], int]] = []
        self._batch_orders: dict[str, list[PaymentOrder]] = {}
        self.drop_broadcasts = 0  # the next n batch broadcasts are lost (as if the process died before sending)
        self.hold_batches = False  # batches broadcast now wait unmined in the pool (a fee too low for the chain)
        self.held: set[str] = set()
        self.underpriced = 0  # the next n batch broadcasts are refused as underpriced replacements
        self.out_of_gas = 0  # the next n batches broadcast are mined reverted, out of gas, paying nobody
        self.batch_bumps: list[int] = []  # the fee step each batch was signed at
        self.received: dict[tuple[str, str], int] = {}
        self.unsignable: dict[str, str] = {}  # recipient -> why the simulation refuses any batch paying them
        self.allowances: dict[str, ExecutorAllowance] = {}  # token symbol -> the contract's executor allowance
        self.allowance_reads = 0
        # Other contracts' executor transactions (tests/fakes_escrow.py: releases, refunds): tx hash -> (nonce,
        # what mining it does). Broadcasting one mines it like a payment.
        self.contracts: dict[str, tuple[int, Callable[[], Receipt]]] = {}

    def _check(self) -> None:
        if self.down:
            self.refused += 1
            raise ChainUnavailable()

    async def balance(self, address: str, token: Token) -> int:
        self._check()
        return self.balances.get((address.lower(), token.symbol), 0)

    async def pending_nonce(self) -> int:
        self._check()
        return 0

    async def mined_nonce(self) -> int:
        self._check()
        used = self.nonces_used | {self._nonces[h] for h in self.mined if h in self._nonces}
        used |= {self.contracts[h][0] for h in self.mined if h in self.contracts}
        return max(used) + 1 if used else 0

    async def sign_payment(self, order: PaymentOrder, nonce: int, *, bump: int = 0) -> SignedTx:
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        self.signed.append((order, nonce, bump))
        tx_hash = "0x" + f"{len(self.signed):064x}"
        self._pending[tx_hash] = order
        self._nonces[tx_hash] = nonce
        return SignedTx(raw=tx_hash.encode(), tx_hash=tx_hash, nonce=nonce, max_fee=2 * 10**9 + bump, tip=1 + bump)

    async def broadcast(self, raw: bytes) -> str:
        self._check()
        if raw.decode() in self._batch_orders:
            return self._broadcast_batch(raw.decode())
        if self.refuse_broadcast:
            raise ChainRejected(self.refuse_broadcast)
        tx_hash = raw.decode()
        if tx_hash in self.contracts:
            self.sent.append(raw)
            if self.mine and tx_hash not in self.mined:
                self.mined[tx_hash] = self.contracts[tx_hash][1]()
            return tx_hash
        nonce = self._nonces.get(tx_hash)
        if tx_hash not in self.mined and nonce is not None and nonce < await self.mined_nonce():
            raise ChainRejected("the executor's nonce for this transaction was already used by another transaction")
        self.sent.append(raw)
        order = self._pending.get(tx_hash)
        if self.mine and order and tx_hash not in self.mined:
            if self.front_run and order.intent_hash not in self.paid:
                copy_hash = "0x" + f"c{len(self.mined) + 1:063x}"
                self._pay(order, copy_hash)
            if order.intent_hash in self.paid:
                self.mined[tx_hash] = Receipt(tx_hash, False, len(self.mined) + 1, 50_000, 10**15, "this payment was already executed on chain")
            else:
                self._pay(order, tx_hash)
        return tx_hash

    def _pay(self, order: PaymentOrder, tx_hash: str) -> None:
        self.paid[order.intent_hash] = order.amount
        self.paid_tx[order.intent_hash] = tx_hash
        key = (TREASURY.lower(), order.token.symbol)
        self.balances[key] -= order.amount
        self.mined[tx_hash] = Receipt(tx_hash, True, len(self.mined) + 1, 60_000, 10**15, paid=frozenset({order.intent_hash}))

    async def receipt(self, tx_hash: str) -> Receipt | None:
        self._check()
        return self.mined.get(tx_hash)

    async def wait_for_receipt(self, tx_hash: str, timeout: float) -> Receipt | None:
        return await self.receipt(tx_hash)

    async def is_paid(self, intent_hash: str) -> bool:
        self._check()
        return intent_hash in self.paid

    async def paid_by(self, intent_hash: str) -> str | None:
        self._check()
        return self.paid_tx.get(intent_hash)

    async def is_row_paid(self, row_id: int) -> bool:
        self._check()
        return row_id in self.paid_rows

    async def rows_paid_by(self, row_ids: Collection[int]) -> dict[int, str]:
        self._check()
        return {i: self.row_paid_tx[i] for i in row_ids if i in self.row_paid_tx}

    async def used_row_words(self, first_word: int, last_word: int) -> list[int]:
        self._check()
        self.word_reads.append((first_word, last_word))
        return sorted({i >> 8 for i in self.paid_rows if first_word <= i >> 8 <= last_word})

    def recover_signer(self, message: str, signature: str) -> str:
        # Test convention: the "signature" is 0x + 130 hex whose last 40 digits are the signer's address.
        if not signature.startswith("0x") or len(signature) != 132:
            raise UserError("signature: malformed", field="signature")
        from core.addresses import to_checksum

        return to_checksum("0x" + signature[-40:])

    def explorer_url(self, tx_hash: str) -> str | None:
        return f"https://explorer.test/tx/{tx_hash}"

    async def fee_per_gas(self) -> int:
        self._check()
        return 2 * 10**9

    async def executor_allowance(self, token: Token) -> ExecutorAllowance | None:
        self._check()
        self.allowance_reads += 1
        return self.allowances.get(token.symbol)

    async def sign_batch(self, orders: list[PaymentOrder], nonce: int, *, bump: int = 0) -> SignedTx:
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        await asyncio.sleep(0)  # let the chunks signed alongside start too, as the real client does
        for o in orders:
            assert o.row_id is not None, "executeBatch pays bulk rows by row id"
            if o.recipient in self.unsignable:
                raise ChainRejected(self.unsignable[o.recipient])
        self.batches_signed.append((list(orders), nonce))
        self.batch_bumps.append(bump)
        tx_hash = "0x" + f"b{len(self.batches_signed):063x}"
        self._batch_orders[tx_hash] = list(orders)
        return SignedTx(raw=tx_hash.encode(), tx_hash=tx_hash, nonce=nonce)

    async def broadcast_many(self, raws: list[bytes]) -> list[str | ChainRejected]:
        out: list[str | ChainRejected] = []
        for raw in raws:
            try:
                out.append(await self.broadcast(raw))
            except ChainRejected as e:  # as the real client: each slot says why its transaction was refused
                out.append(e)
        return out

    async def stuck(self, tx_hash: str) -> bool:
        self._check()
        return tx_hash in self.held and tx_hash not in self.mined

    async def prepare_batch(self, orders: list[PaymentOrder]) -> None:
        """The checks sign_batch makes (outages, refusals), without counting a signing."""
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        for o in orders:
            if o.recipient in self.unsignable:
                raise ChainRejected(self.unsignable[o.recipient])

    def _broadcast_batch(self, tx_hash: str) -> str:
        """Settles executeBatch at once: each payout paid, or failed with its reason, inside one receipt."""
        if self.drop_broadcasts:
            self.drop_broadcasts -= 1
            return tx_hash
        self.sent.append(tx_hash.encode())
        if tx_hash in self.mined:
            return tx_hash
        if self.hold_batches:
            self.held.add(tx_hash)
            return tx_hash
        if self.underpriced:
            self.underpriced -= 1
            raise ChainRejected("a transaction with the same nonce is pending with a higher fee; sign it again with a bump")
        if self.out_of_gas:
            self.out_of_gas -= 1
            self.mined[tx_hash] = Receipt(tx_hash, False, len(self.mined) + 1, 1_000_000, 10**15,
                                          "the transaction ran out of gas")
            return tx_hash
        paid: set[int] = set()
        failed: list[tuple[int, str]] = []
        for o in self._batch_orders[tx_hash]:
            key = (TREASURY.lower(), o.token.symbol)
            assert o.row_id is not None
            if o.row_id in self.paid_rows:
                failed.append((o.row_id, "this payment was already executed"))
            elif o.recipient in self.refuse:
                failed.append((o.row_id, "the recipient refused the transfer"))
            elif self.balances.get(key, 0) < o.amount:
                failed.append((o.row_id, "the treasury is short"))
            else:
                self.balances[key] -= o.amount
                self.paid[o.intent_hash] = o.amount
                self.paid_rows.add(o.row_id)
                self.row_paid_tx[o.row_id] = tx_hash
                self.received[(o.recipient, o.token.symbol)] = self.received.get((o.recipient, o.token.symbol), 0) + o.amount
                paid.add(o.row_id)
        n = len(self._batch_orders[tx_hash])
        self.mined[tx_hash] = Receipt(tx_hash, True, len(self.mined) + 1, 60_000 * n, 10**14 * n,
                                      paid_rows=frozenset(paid), failed_rows=tuple(failed))
        return tx_hash


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.blocked: set[str] = set()

    async def send(self, user_ref: str, reply: Reply) -> Delivery:
        if user_ref in self.blocked:
            return Delivery(ok=False, undeliverable=True, error="blocked")
        self.sent.append((user_ref, reply))
        return Delivery(ok=True)

    async def send_in_place(self, user_ref: str, reply: Reply, slot: str) -> Delivery:
        return await self.send(user_ref, reply)  # a platform that cannot edit: every update is a new message


class RecordingQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple[Job, tuple[object, ...], str | None]] = []

    def enqueue(self, job: Job, *args: object, job_id: str | None = None) -> None:
        self.jobs.append((job, args, job_id))


if TYPE_CHECKING:  # mypy holds each fake to its port here: a fake that drifts from core/ports.py fails the check
    _clock: Clock = FakeClock()
    _database: UnitOfWorkFactory = FakeDatabase()
    _chain: Chain = FakeChain()
    _notifier: Notifier = FakeNotifier()
    _queue: JobQueue = RecordingQueue()


class Say:
    """Chat text to an engine as a person, each message under a fresh idempotency key. A test module subclasses it
    with its usual speaker: `class Say(fakes.Say): actor = OLGA`."""

    actor: Actor
    prefix = "k"
    n = 0  # shared by every subclass, so no two messages of a test run share a key

    def __init__(self, engine: ChatEngine) -> None:
        self.engine = engine

    async def __call__(self, text: str, actor: Actor | None = None, key: str | None = None) -> Reply:
        Say.n += 1
        return await self.engine.handle_text(text, actor=actor or self.actor, key=key or f"{self.prefix}{Say.n}")


__all__ = ["FakeClock", "FakeDatabase", "FakeChain", "FakeNotifier", "RecordingQueue", "Say", "replace"]
