"""The ledger's queries on SQLite and PostgreSQL, held to the same answers as the in-memory fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.db import create_engine_for
from adapters.db.uow import make_uow_factory
from core.bulk.model import Batch, BatchRow, BatchStatus, RowStatus
from core.ledger import OutflowKind, OutflowStatus
from core.model import Intent, IntentStatus, User
from tests.fakes import FakeDatabase
from tests.unit.test_bulk_engine import addr

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def intent(n: int, status: IntentStatus, token: str = "CRO", *, minutes: int, mixer: bool = False) -> Intent:
    at = T0 + timedelta(minutes=minutes)
    return Intent(f"pay-{n:08d}", f"key-{n}", "telegram:1", addr(100 + n), token, 10**18 * n + 1, "0x" + f"{n:064x}",
                  at, at, status=status, tx_hash="0x" + f"a{n:063x}" if status is not IntentStatus.PENDING else None,
                  mixer_commitment="0x" + "12" * 32 if mixer else None)


def batch(n: int, status: BatchStatus, *, minutes: int | None, rows: list[tuple[str, str, RowStatus]]) -> tuple[Batch, list[BatchRow]]:
    at = T0 + timedelta(minutes=minutes or 0)
    b = Batch(f"bulk-{n:08d}", f"bkey-{n}", "console:op", "f.csv", f"h{n}", "csv", len(rows), {}, at, at, status=status,
              started_at=at if minutes is not None else None)
    out = [BatchRow(b.id, i, i + 2, to, token, 10**6 * (i + 1), "0x" + f"{n:032x}{i:032x}", memo=f"m{i}", status=st,
                    chunk=0, tx_hash="0x" + f"b{n:031x}{i:032x}" if st is not RowStatus.PENDING else None)
           for i, (to, token, st) in enumerate(rows)]
    return b, out


ALICE = addr(7)
DATA_INTENTS = [
    intent(1, IntentStatus.CONFIRMED, minutes=1),
    intent(2, IntentStatus.PENDING, minutes=2),  # waiting for /confirm: not an outflow
    intent(3, IntentStatus.CANCELLED, minutes=3),  # not an outflow
    intent(4, IntentStatus.FAILED, "USDC", minutes=4),
    intent(5, IntentStatus.SUBMITTED, minutes=6, mixer=True),
    intent(6, IntentStatus.CONFIRMED, "USDC", minutes=9),
]
DATA_BATCHES = [
    batch(1, BatchStatus.DONE, minutes=5, rows=[(ALICE.lower(), "USDC", RowStatus.PAID), (addr(8), "CRO", RowStatus.FAILED),
                                                (ALICE, "CRO", RowStatus.PAID)]),
    batch(2, BatchStatus.PREVIEW, minutes=None, rows=[(ALICE, "CRO", RowStatus.PENDING)]),  # never executed
    batch(3, BatchStatus.RUNNING, minutes=7, rows=[(addr(9), "USDC", RowStatus.PENDING), (ALICE, "USDC", RowStatus.CANCELLED),
                                                   (ALICE.upper().replace("0X", "0x"), "CRO", RowStatus.PENDING)]),
    batch(4, BatchStatus.DONE, minutes=10, rows=[(addr(20 + i), "CRO", RowStatus.PAID) for i in range(12)]),  # lines 2..13
]


async def fill(uow) -> None:
    async with uow() as u:
        for i in DATA_INTENTS:
            await u.intents.add(i)
        for b, rows in DATA_BATCHES:
            await u.batches.add(b, rows)
        for ref, wallet in (("telegram:7", ALICE), ("discord:7", ALICE.lower()), ("telegram:8", addr(8)), ("telegram:9", None)):
            await u.users.save(User(ref, ref.split(":")[0], ref.split(":")[1], wallet=wallet, created_at=T0))
        await u.commit()


async def test_outflows_and_received_match_the_fake_on_the_real_database(migrated_url: str) -> None:
    engine = create_engine_for(migrated_url)
    fake = FakeDatabase()
    try:
        real = make_uow_factory(engine)
        await fill(real)
        await fill(fake)
        async with real() as u:
            everything = await u.ledger.outflows(None)
            answers = {(n, t): await u.ledger.outflows(n, t) for n in (1, 3, 50) for t in (None, "USDC", "CRO")}
            mine = await u.ledger.received(ALICE.upper().replace("0X", "0x"), 10)
            linked = await u.users.by_wallets([ALICE.upper().replace("0X", "0x"), addr(8), addr(99)])
        async with fake() as u:
            assert everything == await u.ledger.outflows(None)
            for (n, t), got in answers.items():
                assert got == await u.ledger.outflows(n, t), (n, t)
            assert mine == await u.ledger.received(ALICE, 10)
            assert sorted(x.ref for x in linked) == sorted(x.ref for x in await u.users.by_wallets([ALICE, addr(8)]))
    finally:
        await engine.dispose()
    # Newest first: intents by creation, bulk rows by their batch's execution; nothing pending, cancelled or previewed.
    assert [o.id for o in everything] == [f"bulk-00000004:{line}" for line in range(13, 1, -1)] + [
        "pay-00000006", "bulk-00000003:4", "bulk-00000003:2", "pay-00000005", "bulk-00000001:4", "bulk-00000001:3",
        "bulk-00000001:2", "pay-00000004", "pay-00000001"]
    kinds = {o.id: (o.kind, o.status) for o in everything}
    assert kinds["pay-00000005"] == (OutflowKind.MIXER, OutflowStatus.SENDING)
    assert kinds["pay-00000004"] == (OutflowKind.PAYMENT, OutflowStatus.FAILED)
    assert kinds["bulk-00000003:2"] == (OutflowKind.BULK, OutflowStatus.SENDING)
    assert [o.id for o in answers[(3, "USDC")]] == ["pay-00000006", "bulk-00000003:2", "bulk-00000001:2"]
    assert all(o.token == "CRO" for o in answers[(50, "CRO")]) and [o.id for o in answers[(1, None)]] == ["bulk-00000004:13"]
    assert [o.id for o in answers[(3, None)]] == ["bulk-00000004:13", "bulk-00000004:12", "bulk-00000004:11"]
    big = next(o for o in everything if o.id == "pay-00000006")
    assert big.amount == 6 * 10**18 + 1 and big.requester == "telegram:1"  # NUMERIC(78,0), exact
    row = next(o for o in everything if o.id == "bulk-00000001:2")
    assert (row.batch_id, row.memo, row.requester, row.recipient) == ("bulk-00000001", "m0", "console:op", ALICE.lower())
    # Alice's rows whatever the case of the address; not the failed, cancelled or never-executed ones.
    assert [o.id for o in mine] == ["bulk-00000003:4", "bulk-00000001:4", "bulk-00000001:2"]
    assert sorted(x.ref for x in linked) == ["discord:7", "telegram:7", "telegram:8"]
