"""Fakes for the bulk ports: batch storage inside the in-memory database, and a chain that settles batches."""

from __future__ import annotations

import asyncio
import copy

from core.bulk.model import ChunkStatus
from core.errors import ChainRejected
from core.model import Receipt
from core.ports import DuplicateKey, SignedTx
from tests.fakes import TREASURY, FakeChain, FakeDatabase, FakeUnitOfWork


class _Batches:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def s(self):
        w = self.uow.work
        if not hasattr(w, "batches"):
            w.batches, w.batch_rows, w.chunks = {}, {}, {}
        return w

    async def add(self, batch, rows):
        if batch.id in self.s.batches:
            raise DuplicateKey(batch.id)
        self.s.batches[batch.id] = copy.deepcopy(batch)
        self.s.batch_rows[batch.id] = [copy.deepcopy(r) for r in rows]

    async def get(self, batch_id, *, for_update=False):
        return copy.deepcopy(self.s.batches.get(batch_id))

    async def save(self, batch):
        self.s.batches[batch.id] = copy.deepcopy(batch)

    async def with_hash(self, content_hash):
        found = [b for b in self.s.batches.values() if b.content_hash == content_hash]
        return [copy.deepcopy(b) for b in sorted(found, key=lambda b: b.created_at, reverse=True)]

    async def for_actor(self, actor_ref, limit):
        found = [b for b in self.s.batches.values() if b.actor_ref == actor_ref]
        found.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        return [copy.deepcopy(b) for b in found[:limit]]

    async def running(self):
        return [copy.deepcopy(b) for b in self.s.batches.values() if b.status.value == "running"]

    async def committed(self, token):
        running = {b for b, x in self.s.batches.items() if x.status.value == "running"}
        return sum(r.amount for b in running for r in self.s.batch_rows[b] if r.token == token and r.status.value == "pending")

    async def rows(self, batch_id, *, status=None, chunk=None):
        return [copy.deepcopy(r) for r in self.s.batch_rows.get(batch_id, [])
                if (status is None or r.status is status) and (chunk is None or r.chunk == chunk)]

    async def save_rows(self, rows):
        for r in rows:
            self.s.batch_rows[r.batch_id][r.seq] = copy.deepcopy(r)

    async def add_chunks(self, chunks):
        for c in chunks:
            self.s.chunks[(c.batch_id, c.index)] = copy.deepcopy(c)

    async def chunks(self, batch_id):
        return [copy.deepcopy(c) for k, c in sorted(self.s.chunks.items()) if k[0] == batch_id]

    async def chunk(self, batch_id, index, *, for_update=False):
        return copy.deepcopy(self.s.chunks.get((batch_id, index)))

    async def claim_open_chunks(self, batch_id, most):
        return [copy.deepcopy(c) for (b, _), c in sorted(self.s.chunks.items())
                if b == batch_id and c.status is ChunkStatus.OPEN][:most]

    async def stale_chunks(self, batch_id, signed_before):
        return [copy.deepcopy(c) for (b, _), c in sorted(self.s.chunks.items())
                if b == batch_id and c.status is ChunkStatus.SIGNED and c.signed_at <= signed_before]

    async def save_chunk(self, chunk):
        self.s.chunks[(chunk.batch_id, chunk.index)] = copy.deepcopy(chunk)


class _Uploads:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def add(self, actor_ref, window, start, *, files=0, rows=0):
        w = self.uow.work
        if not hasattr(w, "uploads"):
            w.uploads = {}
        got = w.uploads.get((actor_ref, window, start), (0, 0))
        w.uploads[(actor_ref, window, start)] = got = (got[0] + files, got[1] + rows)
        return got


class FakeBulkDatabase(FakeDatabase):
    def __call__(self) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(self)
        uow.batches = _Batches(uow)
        uow.uploads = _Uploads(uow)
        return uow

    def table(self, name):
        return getattr(self.store, name, {})


class FakeBatchChain(FakeChain):
    """Settles executeBatch instantly; `refuse` lists recipients whose payout fails inside the batch."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()
        self.batches_signed: list[tuple[list, int]] = []
        self._batch_orders: dict[str, list] = {}
        self.drop_broadcasts = 0  # the next n broadcasts are lost (as if the process died before sending)
        self.received: dict[str, int] = {}
        self.unsignable: dict[str, str] = {}  # recipient -> why the simulation refuses any batch paying them

    async def fee_per_gas(self):
        self._check()
        return 2 * 10**9

    async def sign_batch(self, orders, nonce, *, bump=0):
        self._check()
        if self.reject:
            raise ChainRejected(self.reject)
        await asyncio.sleep(0)  # let the chunks signed alongside start too, as the real client does
        for o in orders:
            if o.recipient in self.unsignable:
                raise ChainRejected(self.unsignable[o.recipient])
        self.batches_signed.append((list(orders), nonce))
        tx_hash = "0x" + f"b{len(self.batches_signed):063x}"
        self._batch_orders[tx_hash] = list(orders)
        return SignedTx(raw=tx_hash.encode(), tx_hash=tx_hash, nonce=nonce)

    async def broadcast_many(self, raws):
        return [await self.broadcast(raw) for raw in raws]

    async def broadcast(self, raw):
        self._check()
        tx_hash = raw.decode()
        if tx_hash not in self._batch_orders:
            return await super().broadcast(raw)
        if self.drop_broadcasts:
            self.drop_broadcasts -= 1
            return tx_hash
        self.sent.append(raw)
        if tx_hash in self.mined:
            return tx_hash
        paid, failed = set(), []
        for o in self._batch_orders[tx_hash]:
            key = (TREASURY.lower(), o.token.symbol)
            if o.intent_hash in self.paid:
                failed.append((o.intent_hash, "this payment was already executed"))
            elif o.recipient in self.refuse:
                failed.append((o.intent_hash, "the recipient refused the transfer"))
            elif self.balances.get(key, 0) < o.amount:
                failed.append((o.intent_hash, "the treasury is short"))
            else:
                self.balances[key] -= o.amount
                self.paid[o.intent_hash] = o.amount
                self.received[(o.recipient, o.token.symbol)] = self.received.get((o.recipient, o.token.symbol), 0) + o.amount
                paid.add(o.intent_hash)
        n = len(self._batch_orders[tx_hash])
        self.mined[tx_hash] = Receipt(tx_hash, True, len(self.mined) + 1, 60_000 * n, 10**14 * n,
                                      paid=frozenset(paid), failed=tuple(failed))
        return tx_hash
