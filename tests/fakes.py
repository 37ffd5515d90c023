"""Hand-written fakes for the core's ports: an in-memory database, a scripted chain, a clock, a notifier."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from core.errors import ChainRejected, ChainUnavailable, UserError
from core.model import IntentStatus, Receipt
from core.money import Token, TokenRegistry
from core.ports import Delivery, DuplicateKey, PaymentOrder, SignedTx
from core.replies import Reply


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw) -> None:
        self.t += timedelta(**kw)


@dataclass
class _Store:
    users: dict = field(default_factory=dict)
    intents: dict = field(default_factory=dict)
    outbox: list = field(default_factory=list)
    outbox_claims: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    audit: list = field(default_factory=list)
    nonces: dict = field(default_factory=dict)
    challenges: dict = field(default_factory=dict)
    attempts: list = field(default_factory=list)


class FakeDatabase:
    def __init__(self) -> None:
        self.store = _Store()
        self.down = False
        self.locks: set[str] = set()  # names held by open units of work (try_lock)

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self) -> _Store:
        return self.uow.work


class _Users(_Repo):
    async def get(self, ref):
        return copy.deepcopy(self.s.users.get(ref))

    async def upsert(self, user):
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

    async def by_handle(self, handle, platform=None):
        return [copy.deepcopy(u) for u in self.s.users.values() if u.handle == handle.lower() and (platform is None or u.platform == platform)]

    async def by_wallet(self, address):
        return [copy.deepcopy(u) for u in self.s.users.values() if u.wallet and u.wallet.lower() == address.lower()]

    async def save(self, user):
        self.s.users[user.ref] = copy.deepcopy(user)


class _Intents(_Repo):
    async def add(self, intent):
        if intent.id in self.s.intents:
            raise DuplicateKey(intent.id)
        self.s.intents[intent.id] = copy.deepcopy(intent)

    async def get(self, intent_id, *, for_update=False):
        return copy.deepcopy(self.s.intents.get(intent_id))

    async def save(self, intent):
        self.s.intents[intent.id] = copy.deepcopy(intent)

    async def for_actor(self, actor_ref, limit):
        mine = [i for i in self.s.intents.values() if actor_ref in (i.actor_ref, i.recipient_ref)]
        return [copy.deepcopy(i) for i in sorted(mine, key=lambda i: i.created_at, reverse=True)[:limit]]

    async def with_status(self, status, limit=1000):
        return [copy.deepcopy(i) for i in self.s.intents.values() if i.status is status][:limit]

    async def in_flight(self, token):
        return sum(i.amount for i in self.s.intents.values() if i.status is IntentStatus.SUBMITTED and i.token == token)

    async def add_attempt(self, attempt):
        if any(a.tx_hash == attempt.tx_hash for a in self.s.attempts):
            raise DuplicateKey(attempt.tx_hash)
        self.s.attempts.append(attempt)

    async def attempts(self, intent_id):
        return [a for a in self.s.attempts if a.intent_id == intent_id]


class _Outbox(_Repo):
    _ids = itertools.count(1)

    async def add(self, n):
        if any(o.dedup_key == n.dedup_key for o in self.s.outbox):
            return
        n = copy.deepcopy(n)
        n.id = next(self._ids)
        self.s.outbox.append(n)

    async def pending(self, limit=100):
        return [copy.deepcopy(n) for n in self.s.outbox if n.status.value == "pending"][:limit]

    async def claim(self, limit, *, now, until, platform=None):
        claims = self.s.outbox_claims  # notification id -> claimed until
        free = [n for n in self.s.outbox if n.status.value == "pending" and claims.get(n.id, now) <= now
                and (platform is None or n.user_ref.startswith(platform + ":"))][:limit]
        for n in free:
            claims[n.id] = until
        return [copy.deepcopy(n) for n in free]

    async def save(self, n):
        self.s.outbox = [copy.deepcopy(n) if o.id == n.id else o for o in self.s.outbox]


class _Keys(_Repo):
    async def get(self, key):
        return copy.deepcopy(self.s.keys.get(key))

    async def add(self, record):
        if record.key in self.s.keys:
            raise DuplicateKey(record.key)
        self.s.keys[record.key] = copy.deepcopy(record)

    async def save(self, record):
        self.s.keys[record.key] = copy.deepcopy(record)


class _Audit(_Repo):
    async def add(self, entry):
        self.s.audit.append(copy.deepcopy(entry))

    async def recent(self, limit=50):
        return list(reversed(self.s.audit))[:limit]


class _Nonces(_Repo):
    async def reserve(self, chain_id, address, floor):
        k = (chain_id, address.lower())
        n = max(self.s.nonces.get(k, 0), floor)
        self.s.nonces[k] = n + 1
        return n


class _Challenges(_Repo):
    async def add(self, c):
        self.s.challenges[c.id] = copy.deepcopy(c)

    async def latest(self, actor_ref):
        mine = [c for c in self.s.challenges.values() if c.actor_ref == actor_ref and not c.used]
        return copy.deepcopy(max(mine, key=lambda c: c.created_at)) if mine else None

    async def save(self, c):
        self.s.challenges[c.id] = copy.deepcopy(c)


class FakeUnitOfWork:
    """Works on a copy of the store; commit() publishes it. Leaving without commit discards it."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.held: set[str] = set()
        self.users, self.intents, self.outbox = _Users(self), _Intents(self), _Outbox(self)
        self.keys, self.audit, self.nonces, self.challenges = _Keys(self), _Audit(self), _Nonces(self), _Challenges(self)

    async def __aenter__(self):
        if self.db.down:
            from core.errors import StorageUnavailable

            raise StorageUnavailable()
        self.work = copy.deepcopy(self.db.store)
        return self

    async def __aexit__(self, *exc):
        self.work = None
        self._release()

    async def commit(self):
        self.db.store = self.work
        self.work = copy.deepcopy(self.db.store)
        self._release()

    async def rollback(self):
        self.work = copy.deepcopy(self.db.store)
        self._release()

    async def try_lock(self, name):
        if name in self.db.locks:
            return False
        self.db.locks.add(name)
        self.held.add(name)
        return True

    def _release(self):
        self.db.locks -= self.held
        self.held.clear()


TREASURY = "0x" + "7e" * 20
EXECUTOR = "0x" + "e1" * 20


class FakeChain:
    """A chain that settles instantly, with scripted balances, failures and outages."""

    def __init__(self) -> None:
        self.chain_id = 31337
        self.tokens = TokenRegistry([Token("CRO", 18, native=True), Token("USDC", 6, "0x" + "05" * 20)])
        self.executor, self.treasury = EXECUTOR, TREASURY
        self.balances: dict[tuple[str, str], int] = {(TREASURY.lower(), "CRO"): 100 * 10**18, (TREASURY.lower(), "USDC"): 1_000 * 10**6}
        self.down = False
        self.mine = True
        self.reject: str | None = None
        self.sent: list[bytes] = []
        self.signed: list[tuple[PaymentOrder, int, int]] = []
        self.mined: dict[str, Receipt] = {}
        self.paid: dict[str, int] = {}
        self.paid_tx: dict[str, str] = {}  # intent hash -> the transaction that paid it
        self.refuse_broadcast: str | None = None  # the node refuses every broadcast with this reason
        self.front_run = False  # a copy of each authorisation is mined (and pays) just before ours
        self.nonces_used: set[int] = set()  # executor nonces mined by transactions we did not sign
        self._pending: dict[str, PaymentOrder] = {}
        self._nonces: dict[str, int] = {}

    def _check(self):
        if self.down:
            raise ChainUnavailable()

    async def balance(self, address, token):
        self._check()
        return self.balances.get((address.lower(), token.symbol), 0)

    async def pending_nonce(self):
        self._check()
        return 0

    async def mined_nonce(self):
        self._check()
        used = self.nonces_used | {self._nonces[h] for h in self.mined if h in self._nonces}
        return max(used) + 1 if used else 0

    async def sign_payment(self, order, nonce, *, bump=0):
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        self.signed.append((order, nonce, bump))
        tx_hash = "0x" + f"{len(self.signed):064x}"
        self._pending[tx_hash] = order
        self._nonces[tx_hash] = nonce
        return SignedTx(raw=tx_hash.encode(), tx_hash=tx_hash, nonce=nonce, max_fee=2 * 10**9 + bump, tip=1 + bump)

    async def broadcast(self, raw):
        self._check()
        if self.refuse_broadcast:
            raise ChainRejected(self.refuse_broadcast)
        tx_hash = raw.decode()
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

    def _pay(self, order, tx_hash):
        self.paid[order.intent_hash] = order.amount
        self.paid_tx[order.intent_hash] = tx_hash
        key = (TREASURY.lower(), order.token.symbol)
        self.balances[key] -= order.amount
        self.mined[tx_hash] = Receipt(tx_hash, True, len(self.mined) + 1, 60_000, 10**15, paid=frozenset({order.intent_hash}))

    async def receipt(self, tx_hash):
        self._check()
        return self.mined.get(tx_hash)

    async def wait_for_receipt(self, tx_hash, timeout):
        return await self.receipt(tx_hash)

    async def is_paid(self, intent_hash):
        self._check()
        return intent_hash in self.paid

    async def paid_by(self, intent_hash):
        self._check()
        return self.paid_tx.get(intent_hash)

    def recover_signer(self, message, signature):
        # Test convention: the "signature" is 0x + 130 hex whose last 40 digits are the signer's address.
        if not signature.startswith("0x") or len(signature) != 132:
            raise UserError("signature: malformed", field="signature")
        from core.addresses import to_checksum

        return to_checksum("0x" + signature[-40:])

    def explorer_url(self, tx_hash):
        return f"https://explorer.test/tx/{tx_hash}"


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.blocked: set[str] = set()

    async def send(self, user_ref, reply):
        if user_ref in self.blocked:
            return Delivery(ok=False, undeliverable=True, error="blocked")
        self.sent.append((user_ref, reply))
        return Delivery(ok=True)


class RecordingQueue:
    def __init__(self) -> None:
        self.jobs: list[tuple] = []

    def enqueue(self, job, *args, job_id=None):
        self.jobs.append((job, args, job_id))


__all__ = ["FakeClock", "FakeDatabase", "FakeChain", "FakeNotifier", "RecordingQueue", "replace"]
