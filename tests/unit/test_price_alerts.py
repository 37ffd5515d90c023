"""Price alerts (/alert, /alerts, /alert cancel), /price and the dev feed, and the price_alert DM once per crossing
(core.pricealerts, core.handlers.prices), against fakes at the ports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.commands import Actor
from core.engine import Engine
from core.model import NotificationType
from core.pricealerts import PriceAlert, ago, tick
from core.replies import loads
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.fakes_escrow import FakePriceFeed

ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS
BOB = Actor("telegram", "7", "Bob", "bob")  # a member
CAT = Actor("discord", "8", "Cat", "cat")  # another member
CENT = 10**6  # 0.01 USD at the dev feed's 8 decimals


class World:
    def __init__(self, *, feeds: bool = True, max_alerts: int = 20) -> None:
        self.chain, self.db, self.clock = FakeChain(), FakeDatabase(), FakeClock()
        self.feed = FakePriceFeed(self.clock, {"CRO/USD": (8, 10 * CENT), "ETH/USD": (8, 3000 * 10**8)})
        self.queue = RecordingQueue()
        policy = Policy(admins=frozenset({ADA.ref}), price_max_age=timedelta(hours=1), price_alerts_max=max_alerts)
        self.engine = Engine(chain=self.chain, uow=self.db, clock=self.clock, queue=self.queue, policy=policy,
                             prices=self.feed if feeds else None)
        self.n = 0

    async def say(self, text: str, actor: Actor = BOB, key: str | None = None) -> str:
        self.n += 1
        return (await self.engine.handle_text(text, actor=actor, key=key or f"k{self.n}")).plain()

    def move(self, cents: int) -> None:
        self.feed.move("CRO/USD", cents * CENT)

    async def tick(self) -> int:
        return await tick(self.engine.services)

    def dms(self) -> list[tuple[str, str]]:
        return [(n.user_ref, loads(n.body).plain()) for n in self.db.store.outbox if n.type is NotificationType.PRICE_ALERT]

    def alerts(self) -> list[PriceAlert]:
        return list(self.db.store.price_alerts.values())


@pytest.fixture
def w() -> World:
    return World()


async def test_an_alert_fires_once_per_crossing_and_re_arms_when_the_price_goes_back(w):
    reply = await w.say("/alert CRO above 0.12")
    assert "Alert alert-" in reply and "when CRO/USD goes above 0.12 USD, once each time" in reply and "Now: 0.1 USD" in reply
    (made,) = w.alerts()
    assert made.threshold == 12 * CENT and made.decimals == 8 and made.on_side is False
    await w.tick()
    assert w.dms() == []
    w.move(13)
    assert await w.tick() == 1
    assert len(w.dms()) == 1
    ref, text = w.dms()[0]
    assert ref == BOB.ref and "CRO/USD rose above 0.12 USD: 0.13 USD now" in text and made.id in text
    w.move(14)  # still above: no second DM, however many passes
    for _ in range(3):
        assert await w.tick() == 0
    assert len(w.dms()) == 1
    w.move(12)  # at the threshold is not above: re-armed, silently
    assert await w.tick() == 1
    assert len(w.dms()) == 1
    w.move(15)  # crosses again: a second DM, with a key of its own
    await w.tick()
    assert len(w.dms()) == 2
    assert [n.dedup_key for n in w.db.store.outbox] == [f"pricealert:{made.id}:1", f"pricealert:{made.id}:2"]
    assert w.queue.jobs, "delivery is asked for at once"


async def test_below_alerts_and_an_alert_made_on_the_asked_side_waits_for_the_next_crossing(w):
    reply = await w.say("/alert CRO/USD below 0.11 USD")
    assert "It is already below (0.1 USD now), so I will tell you the next time it crosses." in reply
    await w.tick()
    assert w.dms() == []  # not on creation: the reply said where the price is
    w.move(12)
    await w.tick()
    w.move(9)
    await w.tick()
    assert len(w.dms()) == 1 and "CRO/USD fell below 0.11 USD: 0.09 USD now" in w.dms()[0][1]


async def test_an_alert_made_without_a_fresh_reading_fires_on_the_first_fresh_one_on_its_side(w):
    w.feed.age("CRO/USD", w.clock.now() - timedelta(hours=2))
    reply = await w.say("/alert CRO above 0.05")
    assert "stale: the CRO/USD feed has not updated for 2 h (the limit is 60 min)" in reply
    assert w.alerts()[0].on_side is None
    await w.tick()
    assert w.dms() == []  # stale: nothing fires
    w.move(10)  # a fresh round at the same price, above 0.05
    await w.tick()
    assert len(w.dms()) == 1


async def test_stale_readings_and_answers_at_or_below_zero_never_fire(w):
    await w.say("/alert CRO above 0.12")
    w.feed.move("CRO/USD", 20 * CENT, at=w.clock.now() - timedelta(seconds=3601))  # above, but stale
    assert await w.tick() == 0
    w.clock.advance(seconds=1)
    await w.say("/alert CRO below 0.05", actor=CAT)
    w.feed.move("CRO/USD", 0)  # a broken feed's 0 is below every price: still nothing
    assert await w.tick() == 0
    w.feed.move("CRO/USD", -5)
    assert await w.tick() == 0
    assert w.dms() == []
    w.move(20)
    await w.tick()
    assert [ref for ref, _ in w.dms()] == [BOB.ref]


async def test_one_feed_read_per_pair_per_pass_and_none_without_alerts(w):
    await w.tick()
    assert w.feed.reads == 0
    for i in range(5):
        await w.say(f"/alert CRO above 0.1{i}", actor=BOB if i % 2 else CAT)
    await w.say("/alert ETH below 2500")
    before = w.feed.reads
    await w.tick()
    assert w.feed.reads - before == 2


async def test_two_processes_never_both_run_the_pass(w):
    await w.say("/alert CRO above 0.12")
    w.move(13)
    async with w.db() as uow:
        assert await uow.try_lock("price-alerts")  # another process is in its pass
        assert await w.tick() == 0
    assert w.dms() == []
    await w.tick()
    assert len(w.dms()) == 1


async def test_alerts_lists_and_cancel_stops_only_your_own(w):
    await w.say("/alert CRO above 0.12")
    await w.say("/alert ETH below 2500.5")
    listed = await w.say("/alerts")
    assert "Your price alerts (2 of 20)" in listed and "ETH/USD below 2500.5 USD" in listed
    first = w.alerts()[0].id
    assert f"you have no price alert {first}" in await w.say(f"/alert cancel {first}", actor=CAT)
    assert w.alerts()[0].active
    assert "is cancelled" in await w.say(f"/alert cancel {first}")
    assert "already cancelled" in await w.say(f"/alert cancel {first}", key="other")
    assert first not in await w.say("/alerts")
    w.move(13)
    await w.tick()
    assert w.dms() == []
    assert "You have no price alerts" in await w.say("/alerts", actor=CAT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/alert BTC above 1", "there is no price feed for BTC/USD; the feeds here are: CRO/USD, ETH/USD"),
        ("/alert CRO above 0.123456789", "has 9 decimals, but the CRO/USD feed has 8; give at most 8"),
        ("/alert CRO above 0", "price: must be more than 0"),
        ("/alert CRO below -1", "price: must be more than 0"),
        ("/alert CRO above abc", "price: abc is not a number"),
        ("/alert CRO above 1e3", "write the number out in full"),
        ("/alert CRO sideways 1", "side: sideways is neither above nor below"),
        ("/alert CRO above", "the price is missing"),
        ("/alert CRO/USD above 1 EUR", "CRO/USD is priced in USD, not EUR"),
        ("/alert cancel", "give the id of the alert to cancel"),
        ("/alerts now", "/alerts takes no arguments"),
        ("/alert CRO above 99999999999999", "larger than any CRO/USD price"),
    ],
)
async def test_bad_input_names_the_problem_and_changes_nothing(w, text, expected):
    reply = await w.say(text)
    assert expected in reply, reply
    assert w.alerts() == []


async def test_too_many_alerts_per_person():
    w = World(max_alerts=2)
    await w.say("/alert CRO above 0.12")
    await w.say("/alert CRO above 0.13")
    reply = await w.say("/alert CRO above 0.14")
    assert "you have 2 price alerts, the most one person may have" in reply
    assert len(w.alerts()) == 2
    await w.say("/alert CRO above 0.14", actor=CAT)  # counted per person
    await w.say(f"/alert cancel {w.alerts()[0].id}")
    assert "Alert alert-" in await w.say("/alert CRO above 0.14")


async def test_a_repeated_message_makes_one_alert(w):
    first = await w.say("/alert CRO above 0.12", key="tg-1-1")
    again = await w.say("/alert CRO above 0.12", key="tg-1-1")
    assert len(w.alerts()) == 1 and first == again


async def test_price_shows_the_reading_and_its_age_and_says_when_it_is_stale(w):
    w.clock.advance(seconds=12)
    assert await w.say("/price CRO") == "CRO/USD: 0.1 USD, updated 12 s ago."
    both = await w.say("/price")
    assert "CRO/USD: 0.1 USD" in both and "ETH/USD: 3000 USD" in both
    w.clock.advance(hours=3)
    assert "stale: the CRO/USD feed has not updated for 3 h" in await w.say("/price cro/usd")
    assert "there is no price feed for DOGE/USD" in await w.say("/price DOGE")


async def test_an_admin_moves_the_dev_feed_and_nobody_else_does(w):
    reply = await w.say("/price CRO 0.13", actor=ADA)
    assert "Moved the dev feed: CRO/USD: 0.13 USD" in reply
    assert (await w.feed.latest("CRO/USD")).answer == 13 * CENT
    assert "Only admins may move a price feed" in await w.say("/price CRO 0.2")
    assert "has 9 decimals" in await w.say("/price CRO 0.123456789", actor=ADA)
    assert (await w.feed.latest("CRO/USD")).answer == 13 * CENT


async def test_a_real_feed_is_not_moved():
    class RealFeed(FakePriceFeed):
        async def set_price(self, pair: str, answer: int) -> str | None:
            return None

    w = World()
    w.engine.services.prices = RealFeed(w.clock)
    reply = await w.say("/price CRO 0.13", actor=ADA)
    assert "the CRO/USD feed on this chain is a real one and cannot be moved" in reply


async def test_without_feeds_prices_and_alerts_are_refused_clearly():
    w = World(feeds=False)
    assert "There are no price feeds on this bot" in await w.say("/alert CRO above 1")
    assert "There are no price feeds on this bot" in await w.say("/price")
    assert await w.tick() == 0


async def test_alert_made_while_the_feed_is_down_is_kept_and_watched(w):
    w.feed.down = True
    reply = await w.say("/alert CRO above 0.12")
    assert "The feed is not answering right now" in reply
    w.feed.down = False
    w.move(13)
    await w.tick()
    assert len(w.dms()) == 1


def test_ages_read_like_a_person_says_them():
    assert [ago(timedelta(seconds=s)) for s in (0, 12, 119, 120, 7199, 7200, 172800)] == [
        "0 s", "12 s", "119 s", "2 min", "119 min", "2 h", "2 days"]
