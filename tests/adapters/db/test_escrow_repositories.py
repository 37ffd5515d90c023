"""SqlEscrowRepository and SqlCursorRepository on both backends: round trips, UNIQUE key and hash, and the
watcher's queries (due, price_ready decided in SQL, expired) answering exactly what they should."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.escrow.model import Condition, EscrowIntent, EscrowStatus
from core.ports import DuplicateKey

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _intent(n: int, **kw: object) -> EscrowIntent:
    base = EscrowIntent(
        id=f"int-{n:08d}", key=f"tg-1-{n}", actor_ref="telegram:1", recipient="0x" + "ab" * 20, token="USDC",
        amount=10 * 10**6, salt="0x" + f"{n:064x}", intent_hash="0x" + f"{n:064x}", expires_at=T0 + timedelta(days=30),
        created_at=T0 + timedelta(seconds=n), updated_at=T0, recipient_ref="telegram:2",
    )
    return replace(base, **kw)  # type: ignore[arg-type]  # test data: fields named by the caller


async def test_an_intent_round_trips_with_every_field(uow) -> None:
    full = _intent(1, condition=Condition.PRICE, status=EscrowStatus.FUNDED, pair="CRO/USD", above=True,
                   threshold=12_000_000, price_decimals=8, funded=2**200, funder="0x" + "cd" * 20, nonce=7,
                   raw_tx=b"\x01\x02", tx_hash="0x" + "ee" * 32, submitted_at=T0, settled_at=T0, memo="rent",
                   error="e", note="the CRO/USD feed is stale", due_at=T0)
    async with uow() as u:
        await u.escrows.add(full)
        await u.commit()
    async with uow() as u:
        assert await u.escrows.get("int-00000001") == full
        assert await u.escrows.by_hash([full.intent_hash.upper().replace("0X", "0x")]) == [full]
        assert await u.escrows.by_hash([]) == []
        got = await u.escrows.get("int-00000001", for_update=True)
        assert got is not None
        got.move(EscrowStatus.RELEASING, T0 + timedelta(hours=1))
        got.funded = 3
        await u.escrows.save(got)
        await u.commit()
    async with uow() as u:
        again = await u.escrows.get("int-00000001")
        assert again is not None and again.status is EscrowStatus.RELEASING and again.funded == 3
        assert await u.escrows.get("int-nothere") is None


@pytest.mark.parametrize("clash", ["key", "intent_hash"])
async def test_the_same_key_or_hash_is_refused(uow, clash: str) -> None:
    """A repeated /pay key is the idempotency case (DuplicateKey); a repeated hash is refused all the same."""
    async with uow() as u:
        await u.escrows.add(_intent(1))
        await u.commit()
    second = _intent(2, **{clash: getattr(_intent(1), clash)})
    with pytest.raises(DuplicateKey if clash == "key" else Exception):
        async with uow() as u:
            await u.escrows.add(second)
            await u.commit()
    async with uow() as u:
        assert await u.escrows.get("int-00000002") is None


async def test_for_actor_and_with_status(uow) -> None:
    async with uow() as u:
        await u.escrows.add(_intent(1))
        await u.escrows.add(_intent(2, actor_ref="telegram:3", recipient_ref="telegram:1", status=EscrowStatus.FUNDED))
        await u.escrows.add(_intent(3, actor_ref="telegram:4", recipient_ref=None))
        await u.commit()
    async with uow() as u:
        assert [i.id for i in await u.escrows.for_actor("telegram:1", 10)] == ["int-00000002", "int-00000001"]
        assert [i.id for i in await u.escrows.for_actor("telegram:1", 1)] == ["int-00000002"]
        assert [i.id for i in await u.escrows.with_status([EscrowStatus.AWAITING, EscrowStatus.FUNDED])] == [
            "int-00000001", "int-00000002", "int-00000003"]
        assert [i.id for i in await u.escrows.with_status([EscrowStatus.FUNDED])] == ["int-00000002"]


async def test_due_and_expired(uow) -> None:
    funded = EscrowStatus.FUNDED
    async with uow() as u:
        await u.escrows.add(_intent(1, condition=Condition.TIME, status=funded, due_at=T0 + timedelta(hours=2)))
        await u.escrows.add(_intent(2, condition=Condition.TIME, status=funded, due_at=T0 + timedelta(hours=1)))
        await u.escrows.add(_intent(3, condition=Condition.TIME, due_at=T0))  # not funded: never due
        await u.escrows.add(_intent(4, status=funded, expires_at=T0 + timedelta(hours=1)))
        await u.escrows.add(_intent(5, status=EscrowStatus.RELEASED, expires_at=T0))  # closed: never expires
        await u.escrows.add(_intent(6, expires_at=T0))
        await u.commit()
    async with uow() as u:
        assert await u.escrows.due(T0 + timedelta(minutes=30)) == []
        assert [i.id for i in await u.escrows.due(T0 + timedelta(hours=2))] == ["int-00000002", "int-00000001"]
        assert [i.id for i in await u.escrows.due(T0 + timedelta(hours=2), limit=1)] == ["int-00000002"]
        assert [i.id for i in await u.escrows.expired(T0)] == ["int-00000006"]
        assert [i.id for i in await u.escrows.expired(T0 + timedelta(hours=1))] == ["int-00000006", "int-00000004"]


async def test_price_ready_compares_numbers_not_text(uow) -> None:
    """9 < 10 < 100 as numbers (not as text), equal never fires, and huge thresholds stay exact."""
    funded = EscrowStatus.FUNDED
    rows = [
        _intent(1, above=True, threshold=9),
        _intent(2, above=True, threshold=10),
        _intent(3, above=True, threshold=100),
        _intent(4, above=False, threshold=100),
        _intent(5, above=False, threshold=11),
        _intent(6, above=True, threshold=2**255),
        _intent(7, above=False, threshold=2**255),
        _intent(8, above=True, threshold=1, pair="ETH/USD"),
        _intent(9, above=True, threshold=1, status=EscrowStatus.AWAITING),  # not funded: never fires
    ]
    async with uow() as u:
        for r in rows:
            await u.escrows.add(replace(r, condition=Condition.PRICE, pair=r.pair or "CRO/USD", price_decimals=8,
                                        status=funded if r.status is EscrowStatus.AWAITING and r.id != "int-00000009" else r.status))
        await u.commit()
    async with uow() as u:
        ready = {a: sorted(i.id[-1] for i in await u.escrows.price_ready("CRO/USD", a)) for a in (10, 11, 100, 2**255 + 1)}
        assert ready[10] == ["1", "4", "5", "7"]
        assert ready[11] == ["1", "2", "4", "7"]
        assert ready[100] == ["1", "2", "7"]
        assert ready[2**255 + 1] == ["1", "2", "3", "6"]
        assert await u.escrows.price_ready("CRO/USD", 0) == []  # a broken feed fires nothing
        assert len(await u.escrows.price_ready("CRO/USD", 10, limit=2)) == 2


async def test_cursors(uow) -> None:
    async with uow() as u:
        assert await u.cursors.get("escrow") is None
        await u.cursors.put("escrow", 10)
        await u.commit()
    async with uow() as u:
        await u.cursors.put("escrow", 12)
        await u.cursors.put("mixer", 3)
        await u.commit()
    async with uow() as u:
        assert (await u.cursors.get("escrow"), await u.cursors.get("mixer")) == (12, 3)
