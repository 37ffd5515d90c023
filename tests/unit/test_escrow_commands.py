"""What a member types about escrowed intents (core.escrow.handlers): /pay with or without a condition, /deposit,
/release, /cancel, /status and /history of an "int-…" id, and every bad input of issue 13, against fakes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from core.commands import Actor
from core.engine import Engine
from core.escrow.model import Condition, EscrowIntent, EscrowStatus
from core.model import User
from core.replies import Reply
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.fakes_escrow import FakeEscrowChain, FakePriceFeed

MIA = Actor("telegram", "1", "Mia", "mia")  # a member: her /pay is an intent she funds
BOB = Actor("telegram", "2", "Bob", "bob")  # the recipient, with a linked wallet
EVE = Actor("telegram", "3", "Eve", "eve")  # someone else
OLGA = Actor("telegram", "9", "Olga", "olga")  # an operator
BOB_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
MIA_WALLET = "0x" + "4d" * 20


class World:
    def __init__(self, *, escrow: bool = True) -> None:
        self.chain, self.db, self.clock = FakeChain(), FakeDatabase(), FakeClock()
        self.escrow = FakeEscrowChain(self.chain, self.clock) if escrow else None
        self.prices = FakePriceFeed(self.clock)
        self.engine = Engine(chain=self.chain, uow=self.db, clock=self.clock, queue=RecordingQueue(),
                             policy=Policy(operators=frozenset({OLGA.ref})), escrow=self.escrow, prices=self.prices)
        self.db.store.users[BOB.ref] = User(BOB.ref, "telegram", "2", "Bob", "bob", wallet=BOB_WALLET)
        self.n = 0

    async def say(self, text: str, actor: Actor = MIA, key: str | None = None) -> Reply:
        self.n += 1
        return await self.engine.handle_text(text, actor=actor, key=key or f"k{self.n}")

    def intents(self) -> list[EscrowIntent]:
        return sorted(self.db.store.escrows.values(), key=lambda i: i.created_at)

    def only(self) -> EscrowIntent:
        (intent,) = self.db.store.escrows.values()
        return intent

    async def open(self, text: str = "/pay @bob 10 USDC") -> EscrowIntent:
        reply = await self.say(text)
        assert reply.kind != "error", reply.plain()
        return self.intents()[-1]

    def set(self, intent_id: str, **fields: object) -> None:
        """What the watcher (core.escrow.watch) records: here set by hand."""
        for name, value in fields.items():
            setattr(self.db.store.escrows[intent_id], name, value)


@pytest.fixture
def w() -> World:
    return World()


def unchanged(w: World):
    before = copy.deepcopy(w.db.store.escrows)

    class _Check:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            assert w.db.store.escrows == before

    return _Check()


# ------------------------------------------------------------------ /pay by a member
async def test_a_members_pay_opens_an_intent_with_approve_then_fund_links_and_qr_codes(w: World) -> None:
    reply = await w.say("/pay @bob 10 USDC")
    text = reply.plain()
    intent = w.only()
    assert intent.id.startswith("int-") and f"Intent {intent.id}" in text
    assert (intent.actor_ref, intent.recipient, intent.recipient_ref) == (MIA.ref, BOB_WALLET, BOB.ref)
    assert (intent.token, intent.amount, intent.condition, intent.status) == ("USDC", 10 * 10**6, Condition.MANUAL,
                                                                              EscrowStatus.AWAITING)
    assert intent.expires_at == w.clock.now() + timedelta(days=30)
    assert "funded 0 of 10 USDC" in text and "/release" in text and "@bob (telegram:2)" in text
    assert "only from the wallet that funded it first" in text
    links = [s.url for line in reply.lines for s in line if s.kind == "link"]
    assert len(links) == 2 and "/approve?" in links[0] and intent.intent_hash in links[1]
    assert [f.mime for f in reply.files] == ["image/png", "image/png"]
    assert all(f.content.startswith(b"\x89PNG") for f in reply.files)
    assert reply.private and w.db.store.keys[f"k{w.n}"].reply  # stored with its key, in the same transaction


async def test_the_native_coin_has_one_link_and_one_qr(w: World) -> None:
    reply = await w.say("/pay @bob 2 CRO")
    assert len(reply.files) == 1 and "value=2000000000000000000" in reply.plain()


async def test_the_same_message_twice_opens_one_intent(w: World) -> None:
    first = await w.say("/pay @bob 10 USDC", key="tg-1-77")
    again = await w.say("/pay @bob 10 USDC", key="tg-1-77")
    assert len(w.intents()) == 1 and again.plain() == first.plain() and len(again.files) == 2


async def test_an_operator_paying_on_a_price_condition_also_opens_an_intent(w: World) -> None:
    await w.say("/pay @bob 1 CRO when CRO above 0.12 USD", actor=OLGA)
    intent = w.only()
    assert (intent.actor_ref, intent.condition, intent.pair, intent.above, intent.threshold, intent.price_decimals) == (
        OLGA.ref, Condition.PRICE, "CRO/USD", True, 12_000_000, 8)
    assert w.chain.signed == []  # nothing from the treasury


async def test_a_time_is_read_in_the_payers_zone(w: World) -> None:
    await w.say("/tz Europe/Berlin")
    reply = await w.say("/pay @bob 10 USDC at 2026-12-01 09:00")
    intent = w.only()
    assert intent.condition is Condition.TIME and intent.due_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert "2026-12-01 09:00 (Europe/Berlin)" in reply.plain()


async def test_in_three_days_and_an_until_date(w: World) -> None:
    await w.say("/pay @bob 10 USDC in 3 days until 2027-01-15")
    intent = w.only()
    assert intent.due_at is not None and intent.due_at.date() == (w.clock.now() + timedelta(days=3)).date()
    assert intent.expires_at == datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


async def test_below_a_price(w: World) -> None:
    await w.say("/pay @bob 10 USDC when CRO below 0.08")
    intent = w.only()
    assert (intent.above, intent.threshold) == (False, 8_000_000)


@pytest.mark.parametrize(("when", "says"), [
    ("at 2026-11-01 09:00", "in the past"),
    ("every month on the 1st at 09:00", "recurring payments come from the treasury: ask an operator"),
    ("when ETH above 2000 USD", "no price feed for ETH/USD; the feeds here are: CRO/USD"),
    ("when USDC above 1", "no price feed for USDC/USD; the feeds here are: CRO/USD"),  # a condition on the wrong token
    ("when CRO above 0.123456789", "has 9 decimals, but the CRO/USD feed has 8"),
    ("when CRO above 0.12 EUR", "no price feed for CRO/EUR"),
    ("at 2026-12-20 09:00 until 2026-12-10", "is not before the intent expires"),
    ("until 2026-11-01", "until:"),
    ("when CRO sideways 0.1", "write a price condition as"),
])
async def test_bad_conditions_get_a_specific_reply_and_store_nothing(w: World, when: str, says: str) -> None:
    reply = await w.say(f"/pay @bob 10 USDC {when}")
    assert reply.kind == "error" and says in reply.plain(), reply.plain()
    assert w.intents() == [] and w.db.store.keys == {}


async def test_a_recipient_without_a_wallet_is_refused(w: World) -> None:
    reply = await w.say("/pay @eve 10 USDC")
    assert reply.kind == "error" and "has no linked wallet" in reply.plain() and w.intents() == []


async def test_without_an_escrow_on_this_chain_a_member_is_told_so(w: World) -> None:
    bare = World(escrow=False)
    reply = await bare.say("/pay @bob 10 USDC")
    assert reply.kind == "error" and "not available on this chain" in reply.plain() and bare.intents() == []


# ------------------------------------------------------------------ /deposit
async def test_deposit_reissues_the_link_for_the_rest(w: World) -> None:
    intent = await w.open()
    assert w.escrow is not None
    w.escrow.fund(intent.intent_hash, 4 * 10**6, MIA_WALLET)
    reply = await w.say(f"/deposit {intent.id}")
    assert "Fund 6 USDC" in reply.plain() and "funded 4 of 10 USDC" in reply.plain()
    assert "uint256=6000000" in reply.plain() and len(reply.files) == 2
    for typed in ("2", "2 USDC", "2usdc"):
        assert "Fund 2 USDC" in (await w.say(f"/deposit {intent.id} {typed}")).plain()
    more = await w.say(f"/deposit {intent.id} 8 USDC")
    assert "surplus goes back to you" in more.plain()


@pytest.mark.parametrize(("typed", "actor", "says"), [
    ("2 CRO", MIA, "is paid in USDC, not CRO"),
    ("", EVE, "someone else's intent, and you cannot fund it"),
    ("0", MIA, "greater than zero"),
])
async def test_deposit_refusals(w: World, typed: str, actor: Actor, says: str) -> None:
    intent = await w.open()
    with unchanged(w):
        reply = await w.say(f"/deposit {intent.id} {typed}".strip(), actor=actor)
    assert reply.kind == "error" and says in reply.plain(), reply.plain()


async def test_deposit_of_a_fully_funded_or_closed_intent_is_refused(w: World) -> None:
    intent = await w.open()
    w.set(intent.id, status=EscrowStatus.FUNDED, funded=10 * 10**6)
    assert "already fully funded" in (await w.say(f"/deposit {intent.id}")).plain()
    w.set(intent.id, status=EscrowStatus.RELEASED)
    assert "takes no more funds" in (await w.say(f"/deposit {intent.id}")).plain()
    assert "is not an intent" in (await w.say("/deposit pay-abcdefgh")).plain()


# ------------------------------------------------------------------ /release
async def test_release_by_someone_else_or_before_full_funding_is_refused(w: World) -> None:
    intent = await w.open()
    with unchanged(w):
        other = await w.say(f"/release {intent.id}", actor=EVE)
        early = await w.say(f"/release {intent.id}")
    assert other.kind == "error" and "only its creator may release it" in other.plain()
    assert early.kind == "error" and "funded 0 of 10 USDC" in early.plain() and "/deposit" in early.plain()
    assert w.escrow is not None and w.escrow.signed == []


async def test_release_of_a_funded_intent_hands_over_to_settle(w: World) -> None:
    intent = await w.open()
    assert w.escrow is not None
    w.escrow.fund(intent.intent_hash, 10 * 10**6, MIA_WALLET)
    w.set(intent.id, status=EscrowStatus.FUNDED, funded=10 * 10**6, funder=MIA_WALLET)
    await w.say(f"/release {intent.id}")
    assert [kind for kind, *_ in w.escrow.signed] == ["released"]
    assert w.db.store.escrows[intent.id].status in (EscrowStatus.RELEASING, EscrowStatus.RELEASED)
    again = await w.say(f"/release {intent.id}")
    assert again.kind == "error" and len(w.escrow.signed) == 1


# ------------------------------------------------------------------ /cancel
async def test_cancel_of_an_unfunded_intent(w: World) -> None:
    intent = await w.open()
    reply = await w.say(f"/cancel {intent.id}")
    assert "Cancelled" in reply.plain() and w.db.store.escrows[intent.id].status is EscrowStatus.CANCELLED


async def test_cancel_of_a_funded_intent_refunds_the_funder(w: World) -> None:
    intent = await w.open()
    assert w.escrow is not None
    w.escrow.fund(intent.intent_hash, 3 * 10**6, MIA_WALLET)  # the watcher has not seen it yet: the chain decides
    await w.say(f"/cancel {intent.id}")
    assert [kind for kind, *_ in w.escrow.signed] == ["refunded"]


@pytest.mark.parametrize(("status", "actor", "says"), [
    (EscrowStatus.RELEASED, MIA, f"already paid to {BOB_WALLET}"),
    (EscrowStatus.REFUNDED, MIA, "already refunded"),
    (EscrowStatus.CANCELLED, MIA, "already cancelled"),
    (EscrowStatus.AWAITING, EVE, "only its creator may cancel it"),
])
async def test_cancel_refusals(w: World, status: EscrowStatus, actor: Actor, says: str) -> None:
    intent = await w.open()
    w.set(intent.id, status=status)
    with unchanged(w):
        reply = await w.say(f"/cancel {intent.id}", actor=actor)
    assert reply.kind == "error" and says in reply.plain(), reply.plain()


# ------------------------------------------------------------------ /status, /history, /help
async def test_status_shows_the_condition_in_the_viewers_zone(w: World) -> None:
    intent = await w.open("/pay @bob 10 USDC at 2026-12-01 09:00")
    await w.say("/tz America/New_York", actor=BOB)
    mine, bobs = await w.say(f"/status {intent.id}"), await w.say(f"/status {intent.id}", actor=BOB)
    assert "2026-12-01 09:00 (UTC)" in mine.plain() and "2026-12-01 04:00 (America/New_York)" in bobs.plain()
    assert "funded 0 of 10 USDC" in mine.plain() and "Expires" in mine.plain()
    stranger = await w.say(f"/status {intent.id}", actor=EVE)
    assert stranger.kind == "error" and "no intent" in stranger.plain()


async def test_status_of_a_price_intent_says_when_the_feed_is_stale(w: World) -> None:
    intent = await w.open("/pay @bob 10 USDC when CRO above 0.12")
    assert "Last CRO/USD price: 0.1 USD" in (await w.say(f"/status {intent.id}")).plain()
    w.prices.age("CRO/USD", w.clock.now() - timedelta(hours=5))
    stale = (await w.say(f"/status {intent.id}")).plain()
    assert "has not updated since" in stale and "so it will not fire" in stale


async def test_history_and_help_include_intents(w: World) -> None:
    intent = await w.open()
    assert intent.id in (await w.say("/history")).plain()
    assert intent.id in (await w.say("/history", actor=BOB)).plain()
    helped = (await w.say("/help")).plain()
    assert "/deposit" in helped and "/release" in helped
    assert [ref for ref, _ in await w.engine.own_payments(MIA, 5)] == [intent.id]
