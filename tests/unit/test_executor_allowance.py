"""[CONTROLS] The bot reads the executor's on-chain allowance and refuses before signing what the Settlement would
refuse anyway (/pay, /confirm, bulk preview and execute, an operator's /mix), saying when it refills; /wallet shows
it to operators, and "no on-chain cap" when the owner set none. Against fakes at the ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.bulk.model import BatchStatus
from core.commands import Actor
from core.engine import Engine
from core.model import IntentStatus
from core.payments.allowance import period_text
from core.ports import ExecutorAllowance
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.unit.test_bulk_engine import batch_id_of, payout_csv
from tests.unit.test_mixer_handlers import FakeMixer

OP = Actor("console", "op", "Operator")
MEMBER = Actor("telegram", "7", "Bob", "bob")
TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
REFILL = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
CRO = 10**18


@pytest.fixture
def world():
    chain, db = FakeChain(), FakeDatabase()
    queue = RecordingQueue()
    engine = Engine(chain=chain, uow=db, clock=FakeClock(), queue=queue, policy=Policy(operators=frozenset({OP.ref})),
                    mixer=FakeMixer(chain))
    return engine, chain, db, queue


def cap(chain: FakeChain, symbol: str, amount: int, spent: int = 0, period: int = 86_400) -> None:
    chain.allowances[symbol] = ExecutorAllowance(amount, period, spent, REFILL)


async def say(engine, text, actor=OP, key=[0]):
    key[0] += 1
    return await engine.handle_text(text, actor=actor, key=f"al{key[0]}")


async def test_pay_beyond_the_allowance_is_refused_before_signing_with_the_refill_time(world):
    engine, chain, db, _ = world
    cap(chain, "CRO", 10 * CRO, spent=9 * CRO)
    reply = await say(engine, f"/pay {TO} 2 CRO")
    text = reply.plain()
    assert reply.kind == "error", text
    assert "caps what the bot's key may pay at 10 CRO per 24 h" in text and "1 CRO is left" in text
    assert "needs 2 CRO" in text and "refills at 2030-01-02 03:04 UTC" in text and "Nothing was signed" in text
    assert "snowrail chain allowance CRO AMOUNT PERIOD" in text
    assert not chain.signed and not chain.sent and not db.store.intents  # nothing signed, nothing stored
    ok = await say(engine, f"/pay {TO} 1 CRO")
    assert ok.kind == "ok", ok.plain()
    assert len(chain.signed) == 1


async def test_a_token_without_an_allowance_has_no_cap(world):
    engine, chain, _, _ = world
    cap(chain, "USDC", 1)  # another token's cap does not touch CRO
    reply = await say(engine, f"/pay {TO} 50 CRO")
    assert reply.kind == "ok", reply.plain()
    assert chain.allowance_reads >= 1


async def test_payments_on_their_way_count_against_the_allowance(world):
    engine, chain, db, _ = world
    cap(chain, "CRO", 10 * CRO)
    chain.mine = False  # the first payment stays signed and in flight
    first = await say(engine, f"/pay {TO} 7 CRO")
    assert "Nothing was signed" not in first.plain()
    refused = await say(engine, f"/pay {TO} 4 CRO")
    assert refused.kind == "error" and "3 CRO is left" in refused.plain()
    assert "7 CRO of it is committed to payments on their way" in refused.plain()
    assert len(chain.signed) == 1


async def test_confirm_checks_the_allowance_again(world):
    engine, chain, db, _ = world
    engine.services.policy = Policy(operators=frozenset({OP.ref}), confirm_above={"CRO": 1 * CRO})
    held = await say(engine, f"/pay {TO} 5 CRO")
    (intent,) = db.store.intents.values()
    assert intent.status is IntentStatus.PENDING and "Confirm" in held.plain()
    cap(chain, "CRO", 4 * CRO)  # the owner lowered it meanwhile
    refused = await say(engine, f"/confirm {intent.id}")
    assert refused.kind == "error" and "refills at 2030-01-02 03:04 UTC" in refused.plain()
    assert not chain.signed and intent.status is IntentStatus.PENDING  # /confirm can try again after the refill


async def test_bulk_preview_warns_and_execute_refuses_beyond_the_allowance(world):
    engine, chain, db, queue = world
    cap(chain, "CRO", 1 * CRO)
    preview = await engine.bulk_upload(OP, "b1", "pay.csv", payout_csv(4))  # 4 x 0.5 CRO
    text = preview.plain()
    assert "⚠ Executor allowance:" in text and "this batch needs 2 CRO" in text and "Execute will refuse it" in text
    bid = batch_id_of(preview)
    refused = await say(engine, f"/bulk execute {bid}")
    assert refused.kind == "error" and "refills at 2030-01-02 03:04 UTC" in refused.plain()
    assert "Nothing was paid" in refused.plain()
    assert db.store.batches[bid].status is BatchStatus.PREVIEW and not queue.jobs and not chain.batches_signed
    cap(chain, "CRO", 5 * CRO)
    go = await say(engine, f"/bulk execute {bid}")
    assert "Executing" in go.plain(), go.plain()


async def test_an_operators_mix_deposit_is_refused_beyond_the_native_allowance(world):
    engine, chain, db, _ = world
    cap(chain, "CRO", CRO // 20)
    reply = await say(engine, "/mix 0.1")
    text = reply.plain()
    assert reply.kind == "error" and "0.05 CRO is left" in text and "refills at 2030-01-02 03:04 UTC" in text
    assert "snowrail-" not in text  # no note handed out for a deposit that will not happen
    assert not chain.signed and not db.store.intents


async def test_wallet_shows_the_allowance_to_operators_only(world):
    engine, chain, _, _ = world
    cap(chain, "USDC", 10_000 * 10**6, spent=2_500 * 10**6)
    text = (await say(engine, "/wallet")).plain()
    assert "Executor allowance" in text
    assert "USDC: 7500 left of 10000 USDC per 24 h, refills 2030-01-02 03:04 UTC" in text
    assert "CRO: no on-chain cap" in text
    member = (await say(engine, "/wallet", actor=MEMBER)).plain()
    assert "allowance" not in member.lower()


@pytest.mark.parametrize("seconds, text", [(86_400, "24 h"), (172_800, "48 h"), (604_800, "7 d"), (5_400, "90 min"),
                                           (45, "45 s"), (3_601, "3601 s")])
def test_periods_read_plainly(seconds, text):
    assert period_text(seconds) == text


def test_remaining_never_goes_below_zero():
    assert ExecutorAllowance(5, 60, 9, REFILL + timedelta(0)).remaining == 0
