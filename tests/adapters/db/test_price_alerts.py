"""Price alerts on real SQLite and PostgreSQL (migration 0017): stored, listed, and the pass's query that picks only
the alerts a reading moves across their threshold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.pricealerts import BIGGEST_PRICE, PriceAlert

T0 = datetime(2026, 11, 26, 12, 0, 0, 123456, tzinfo=timezone.utc)
CENT = 10**6


def alert(n: int, *, above: bool = True, cents: int = 12, on_side: bool | None = False, owner: str = "telegram:7",
          pair: str = "CRO/USD", decimals: int = 8) -> PriceAlert:
    return PriceAlert(f"alert-{n:08d}", owner, pair, above, cents * CENT, decimals, T0 + timedelta(seconds=n),
                      on_side=on_side)


async def test_an_alert_is_stored_read_back_and_updated(uow) -> None:
    made = alert(1, on_side=None)
    async with uow() as u:
        await u.price_alerts.add(made)
        await u.commit()
    async with uow() as u:
        assert await u.price_alerts.get(made.id) == made
        made.on_side, made.crossings, made.last_fired_at = True, 3, T0 + timedelta(hours=1)
        await u.price_alerts.save(made)
        await u.commit()
    async with uow() as u:
        assert await u.price_alerts.get(made.id) == made
        assert await u.price_alerts.get("alert-nothere") is None


async def test_owners_see_their_active_alerts_oldest_first_and_pairs_are_the_watched_ones(uow) -> None:
    async with uow() as u:
        for a in (alert(3), alert(1), alert(2, owner="discord:8", pair="ETH/USD"), alert(4, pair="BTC/USD")):
            await u.price_alerts.add(a)
        await u.commit()
    async with uow() as u:
        gone = await u.price_alerts.get("alert-00000004")
        assert gone is not None
        gone.active, gone.cancelled_at = False, T0
        await u.price_alerts.save(gone)
        await u.commit()
    async with uow() as u:
        assert [a.id for a in await u.price_alerts.for_owner("telegram:7")] == ["alert-00000001", "alert-00000003"]
        assert await u.price_alerts.pairs() == ["CRO/USD", "ETH/USD"]


async def test_changing_picks_exactly_the_alerts_a_reading_moves(uow) -> None:
    alerts = [
        alert(1, above=True, cents=12, on_side=False),  # 0.13 moves it onto its side
        alert(2, above=True, cents=12, on_side=True),  # already there: untouched
        alert(3, above=True, cents=13, on_side=False),  # at the threshold is not above: untouched
        alert(4, above=True, cents=14, on_side=True),  # 0.13 is below 0.14: moves off (re-arms)
        alert(5, above=True, cents=20, on_side=None),  # never read: learns it is off
        alert(6, above=False, cents=15, on_side=False),  # below 0.15: moves on
        alert(7, above=False, cents=10, on_side=False),  # not below 0.10: untouched
        alert(8, above=False, cents=10, on_side=None),  # never read: learns it is off
        alert(9, above=True, cents=12, on_side=False, pair="ETH/USD"),  # another pair
        alert(10, above=True, cents=12, on_side=False, decimals=18),  # another scale
    ]
    async with uow() as u:
        for a in alerts:
            await u.price_alerts.add(a)
        await u.commit()
    async with uow() as u:
        picked = await u.price_alerts.changing("CRO/USD", 8, 13 * CENT)
        assert [a.id[-2:] for a in picked] == ["01", "04", "05", "06", "08"]
        assert [a.id[-2:] for a in await u.price_alerts.changing("CRO/USD", 8, 13 * CENT, limit=2)] == ["01", "04"]
        # An answer beyond BIGINT still compares (clamped): every "above" alert is on its side.
        huge = [a.id[-2:] for a in await u.price_alerts.changing("CRO/USD", 8, 10**40)]
        assert huge == ["01", "03", "05", "08"]
        top = alert(11, cents=0, on_side=False)
        top.threshold = BIGGEST_PRICE - 1
        await u.price_alerts.add(top)
        assert "11" in [a.id[-2:] for a in await u.price_alerts.changing("CRO/USD", 8, 10**40)]
