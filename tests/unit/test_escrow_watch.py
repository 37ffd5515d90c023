"""The escrow watcher, releases and refunds exactly once, and their notices (core.escrow.watch/settle/reconcile),
against fakes at the ports (tests/fakes_escrow.py)."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest

from core.engine import Engine
from core.escrow import reconcile, settle, watch
from core.escrow.model import Condition, EscrowIntent, EscrowStatus
from core.escrow.ports import EscrowState, EscrowTerms, OnChain
from core.model import NotificationType
from core.replies import loads
from core.services import Policy, Services
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.fakes_escrow import FakeEscrowChain, FakePriceFeed

ANN = "telegram:11"  # the member who creates and funds
BOB = "telegram:12"  # the recipient, known to the bot
FUNDER = "0x" + "f0" * 20
RECIPIENT = "0x" + "b0" * 20
USDC = 10**6
_ids = itertools.count(1)


@dataclass
class World:
    s: Services
    engine: Engine
    chain: FakeChain
    escrow: FakeEscrowChain
    prices: FakePriceFeed
    db: FakeDatabase
    clock: FakeClock

    def add(self, amount: int = 10 * USDC, *, token: str = "USDC", condition: Condition = Condition.MANUAL,
            expires_in: timedelta = timedelta(days=30), **kw: object) -> EscrowIntent:
        now = self.clock.now()
        salt = "0x" + secrets.token_hex(32)
        terms = EscrowTerms(self.chain.tokens.get(token), RECIPIENT, amount, int((now + expires_in).timestamp()), salt)
        n = next(_ids)
        intent = EscrowIntent(id=f"int-{n}", key=f"key-{n}", actor_ref=ANN, recipient=RECIPIENT, token=token,
                              amount=amount, salt=salt, intent_hash=self.escrow.intent_hash(terms),
                              expires_at=now + expires_in, created_at=now, updated_at=now, condition=condition,
                              recipient_ref=BOB, **kw)  # type: ignore[arg-type]  # kw: the condition fields a test sets
        self.db.store.escrows[intent.id] = intent
        return intent

    def get(self, intent: EscrowIntent) -> EscrowIntent:
        return self.db.store.escrows[intent.id]

    def notes(self, kind: NotificationType | None = None) -> list[tuple[str, str]]:
        return [(n.user_ref, loads(n.body).plain()) for n in self.db.store.outbox if kind is None or n.type is kind]


@pytest.fixture
def w() -> World:
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    escrow, prices = FakeEscrowChain(chain, clock), FakePriceFeed(clock)
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(), policy=Policy(), escrow=escrow, prices=prices)
    return World(engine.services, engine, chain, escrow, prices, db, clock)


# ------------------------------------------------------------------ funding
async def test_partial_funding_then_top_up_follows_the_contract_and_tells_creator_and_recipient(w: World) -> None:
    intent = w.add()
    await watch.tick(w.s)  # the first pass sets the cursor
    deposit = w.escrow.fund(intent.intent_hash, 4 * USDC, FUNDER)
    assert await watch.tick(w.s) == 1
    got = w.get(intent)
    assert (got.status, got.funded, got.funder) == (EscrowStatus.AWAITING, 4 * USDC, FUNDER)
    funded = w.notes(NotificationType.INTENT_FUNDED)
    assert [ref for ref, _ in funded] == [ANN, BOB]
    assert all("funded 4 of 10 USDC" in text for _, text in funded)
    assert "6 USDC to go" in funded[0][1]
    [(ref, text)] = w.notes(NotificationType.DEPOSIT_CONFIRMED)
    assert ref == ANN and "4 USDC" in text and deposit.tx_hash in text

    w.escrow.fund(intent.intent_hash, 6 * USDC, FUNDER)
    assert await watch.tick(w.s) == 1
    assert w.get(intent).status is EscrowStatus.FUNDED and w.get(intent).funded == 10 * USDC
    assert len(w.notes(NotificationType.DEPOSIT_CONFIRMED)) == 2
    assert any("funded 10 of 10 USDC" in t for r, t in w.notes(NotificationType.INTENT_FUNDED) if r == BOB)
    assert w.escrow.signed == []  # a manual intent waits for /release


async def test_a_log_seen_again_or_re_read_in_the_margin_changes_nothing(w: World) -> None:
    intent = w.add()
    await watch.tick(w.s)
    event = w.escrow.fund(intent.intent_hash, 4 * USDC, FUNDER)
    await watch.tick(w.s)
    before = (w.get(intent), len(w.db.store.outbox))
    w.escrow.emit_again(event, block_number=w.escrow.block + 1)  # a node serving the same log again, later
    w.escrow.mine_empty(2)
    for _ in range(3):
        w.escrow.mine_empty()
        assert await watch.tick(w.s) == 0  # the margin re-reads both copies each pass
    assert (w.get(intent), len(w.db.store.outbox)) == before
    assert w.get(intent).funded == 4 * USDC  # from the contract, never the sum of the two logs


async def test_without_a_new_block_the_logs_are_not_read_again(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    reads = w.escrow.reads
    assert await watch.tick(w.s) == 0
    assert w.escrow.reads == reads


async def test_an_intent_funded_before_the_first_pass_is_read_from_the_contract(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.escrow.mine_empty(watch.REORG_MARGIN + 5)  # its log is older than the margin the first pass reads
    await watch.tick(w.s)
    assert w.get(intent).status is EscrowStatus.FUNDED


async def test_another_process_holding_the_watch_lock_makes_the_pass_a_no_op(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.db.locks.add(watch.LOCK)
    assert await watch.tick(w.s) == 0
    assert w.get(intent).status is EscrowStatus.AWAITING


# ------------------------------------------------------------------ release, conditions
async def test_release_pays_once_and_a_second_release_sends_nothing(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 12 * USDC, FUNDER)  # over-funded: 2 back to the funder
    reply = await settle.release(w.s, intent.id)
    assert reply.kind == "ok" and "Released" in reply.plain(), reply.plain()
    got = w.get(intent)
    assert got.status is EscrowStatus.RELEASED and got.tx_hash in w.chain.mined
    assert w.escrow.paid_to == {RECIPIENT: 10 * USDC, FUNDER: 2 * USDC}
    executed = w.notes(NotificationType.INTENT_EXECUTED)
    assert [r for r, _ in executed] == [ANN, BOB]
    assert "surplus of 2 USDC went back" in executed[0][1] and "You received 10 USDC" in executed[1][1]
    again = await settle.release(w.s, intent.id)
    assert "Already released" in again.plain() and len(w.escrow.signed) == 1
    await watch.tick(w.s)  # the watcher then sees the IntentReleased log: nothing new
    assert len(w.notes(NotificationType.INTENT_EXECUTED)) == 2


async def test_a_time_intent_is_released_when_due_and_recorded_from_its_log(w: World) -> None:
    intent = w.add(condition=Condition.TIME, due_at=w.clock.now() + timedelta(hours=1))
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    assert w.get(intent).status is EscrowStatus.FUNDED and w.escrow.signed == []
    w.clock.advance(hours=1)
    assert await watch.tick(w.s) == 1
    assert [k for k, *_ in w.escrow.signed] == ["released"]
    assert w.get(intent).status is EscrowStatus.RELEASING  # sent without waiting: the log concludes it
    await watch.tick(w.s)
    assert w.get(intent).status is EscrowStatus.RELEASED
    assert w.get(intent).tx_hash == w.escrow.logged[-1].tx_hash
    await watch.tick(w.s)
    assert len(w.escrow.signed) == 1 and len(w.notes(NotificationType.INTENT_EXECUTED)) == 2


async def test_a_price_intent_fires_on_a_fresh_crossing_only(w: World) -> None:
    above = w.add(condition=Condition.PRICE, pair="CRO/USD", above=True, threshold=12_000_000, price_decimals=8)
    w.escrow.fund(above.intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    assert w.escrow.signed == []  # 0.10 is not above 0.12
    # The feed moves above, but its round is older than PRICE_MAX_AGE_SECONDS: stale, so nothing fires.
    w.prices.move("CRO/USD", 13_000_000, at=w.clock.now() - timedelta(hours=2))
    w.escrow.mine_empty()
    await watch.tick(w.s)
    assert w.escrow.signed == [] and w.get(above).status is EscrowStatus.FUNDED
    assert "has not updated since" in (w.get(above).note or "")
    w.prices.move("CRO/USD", 13_000_000)
    w.escrow.mine_empty()
    await watch.tick(w.s)
    assert [k for k, *_ in w.escrow.signed] == ["released"] and w.get(above).note is None


async def test_a_broken_feed_answer_never_fires_a_below_condition(w: World) -> None:
    below = w.add(condition=Condition.PRICE, pair="CRO/USD", above=False, threshold=8_000_000, price_decimals=8)
    w.escrow.fund(below.intent_hash, 10 * USDC, FUNDER)
    w.prices.move("CRO/USD", 0)
    w.escrow.mine_empty()
    await watch.tick(w.s)
    assert w.escrow.signed == [] and "broken feed" in (w.get(below).note or "")


async def test_one_price_reading_per_pair_per_pass(w: World) -> None:
    for _ in range(5):
        w.escrow.fund(w.add(condition=Condition.PRICE, pair="CRO/USD", above=True, threshold=12_000_000,
                            price_decimals=8).intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    assert w.prices.reads == 1


async def test_a_refused_release_is_noted_and_not_retried_at_once(w: World) -> None:
    intent = w.add(condition=Condition.TIME, due_at=w.clock.now())
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.escrow.reject = "the recipient refuses the transfer"
    await watch.tick(w.s)
    assert "would refuse the release" in (w.get(intent).error or "")
    w.escrow.reject = None
    w.escrow.mine_empty()
    await watch.tick(w.s)
    assert w.escrow.signed == []  # within RETRY_AFTER
    w.clock.advance(seconds=watch.RETRY_AFTER.total_seconds() + 1)
    await watch.tick(w.s)
    assert len(w.escrow.signed) == 1


# ------------------------------------------------------------------ refunds and expiry
async def test_expiry_refunds_a_funded_intent_and_cancels_an_unfunded_one(w: World) -> None:
    funded = w.add(expires_in=timedelta(days=1))
    unfunded = w.add(expires_in=timedelta(days=1))
    w.escrow.fund(funded.intent_hash, 3 * USDC, FUNDER)
    await watch.tick(w.s)
    w.clock.advance(days=1)
    await watch.tick(w.s)
    await watch.tick(w.s)
    assert w.get(funded).status is EscrowStatus.REFUNDED and w.escrow.paid_to == {FUNDER: 3 * USDC}
    assert w.get(unfunded).status is EscrowStatus.CANCELLED
    assert [k for k, *_ in w.escrow.signed] == ["refunded"]
    [(_, refunded)] = w.notes(NotificationType.INTENT_REFUNDED)
    assert "3 USDC went back" in refunded and "it expired" in refunded
    [(ref, expired)] = w.notes(NotificationType.INTENT_EXPIRED)
    assert ref == ANN and unfunded.id in expired


async def test_a_due_intent_past_its_expiry_is_refunded_never_released(w: World) -> None:
    intent = w.add(condition=Condition.TIME, due_at=w.clock.now() + timedelta(hours=1), expires_in=timedelta(hours=2))
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.clock.advance(hours=3)  # the bot was away through both
    await watch.tick(w.s)
    assert [k for k, *_ in w.escrow.signed] == ["refunded"]


async def test_the_funders_own_refund_after_expiry_is_recorded_when_the_bot_returns(w: World) -> None:
    intent = w.add(expires_in=timedelta(days=1))
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    w.clock.advance(days=1)
    w.escrow.refund_expired(intent.intent_hash, FUNDER)  # the bot is stopped meanwhile
    await watch.tick(w.s)
    got = w.get(intent)
    assert got.status is EscrowStatus.REFUNDED and got.tx_hash == w.escrow.logged[-1].tx_hash
    assert w.escrow.signed == []
    [(_, text)] = w.notes(NotificationType.INTENT_REFUNDED)
    assert "took it back on chain" in text


async def test_cancel_refunds_what_is_held(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 4 * USDC, FUNDER)  # partly funded, not yet seen by the watcher
    reply = await settle.refund(w.s, intent.id, why="cancelled")
    assert "Refunded" in reply.plain(), reply.plain()
    assert w.get(intent).status is EscrowStatus.REFUNDED and w.escrow.paid_to == {FUNDER: 4 * USDC}


# ------------------------------------------------------------------ exactly once across failures
async def test_signed_but_never_sent_is_sent_by_reconcile_with_the_same_bytes(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    begun = await settle.begin(w.s, intent.id, settle.RELEASE)  # the process dies here, before broadcasting
    assert begun.signed is not None and w.get(intent).status is EscrowStatus.RELEASING
    assert await w.engine.reconcile() == 0  # sent again: same bytes
    assert w.chain.sent == [begun.signed.raw]
    await reconcile.reconcile(w.s)
    assert w.get(intent).status is EscrowStatus.RELEASED and len(w.escrow.signed) == 1


async def test_a_nonce_taken_by_another_transaction_is_signed_again_while_the_intent_is_open(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    begun = await settle.begin(w.s, intent.id, settle.RELEASE)
    assert begun.signed is not None
    w.chain.nonces_used.add(begun.signed.nonce)  # another transaction of the executor used it
    await reconcile.reconcile(w.s)
    assert [n for _, _, n, _ in w.escrow.signed] == [begun.signed.nonce, begun.signed.nonce + 1]
    await reconcile.reconcile(w.s)
    assert w.get(intent).status is EscrowStatus.RELEASED
    assert w.escrow.paid_to == {RECIPIENT: 10 * USDC}


async def test_a_release_that_lost_to_the_funders_refund_is_recorded_refunded(w: World) -> None:
    intent = w.add(expires_in=timedelta(hours=1))
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    begun = await settle.begin(w.s, intent.id, settle.RELEASE)
    assert begun.signed is not None
    w.clock.advance(hours=1)
    w.escrow.refund_expired(intent.intent_hash, FUNDER)  # mined first
    reply = await settle.send(w.s, begun.intent, begun.signed, wait=True)  # ours reverts
    assert w.get(intent).status is EscrowStatus.REFUNDED, reply.plain()
    assert w.escrow.paid_to == {FUNDER: 10 * USDC}
    assert w.notes(NotificationType.INTENT_EXECUTED) == []


async def test_a_node_serving_stale_state_never_makes_the_intent_look_paid_early(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    await watch.tick(w.s)
    w.escrow.stale[intent.intent_hash] = EscrowState(OnChain.OPEN, FUNDER, 10 * USDC)
    await settle.release(w.s, intent.id)  # mined; the node still says open
    assert w.get(intent).status is EscrowStatus.RELEASING
    await reconcile.reconcile(w.s)
    assert w.get(intent).status is EscrowStatus.RELEASING and len(w.escrow.signed) == 1
    del w.escrow.stale[intent.intent_hash]
    await reconcile.reconcile(w.s)
    assert w.get(intent).status is EscrowStatus.RELEASED and len(w.escrow.signed) == 1


async def test_a_release_waiting_too_long_tells_its_creator_once(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.chain.mine = False  # sent, never mined
    await settle.release(w.s, intent.id)
    await reconcile.reconcile(w.s)
    assert w.notes(NotificationType.TRANSACTION_PENDING) == []
    w.clock.advance(seconds=121)
    await reconcile.reconcile(w.s)
    await reconcile.reconcile(w.s)
    [(ref, text)] = w.notes(NotificationType.TRANSACTION_PENDING)
    assert ref == ANN and "release" in text and intent.id in text


async def test_the_node_down_signs_nothing(w: World) -> None:
    intent = w.add()
    w.escrow.fund(intent.intent_hash, 10 * USDC, FUNDER)
    w.chain.down = True
    reply = await settle.release(w.s, intent.id)
    assert reply.kind == "error" and "nothing was signed" in reply.plain()
    assert w.get(intent).status is EscrowStatus.AWAITING and w.escrow.signed == []
    assert await w.engine.tick() == 0  # the due-time loop skips the pass
