"""Rate limits on incoming commands: the in-memory limiter, the rates' settings, and the engine's one check."""

import pytest

from adapters.limits import MemoryRateLimiter
from bot.settings import ConfigError, Settings
from core.commands import Actor
from core.engine import Engine
from core.errors import TransientError
from core.ratelimit import Rate, RateLimits, parse_rate
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase
from tests.unit.test_bulk_engine import payout_csv

OP = Actor("telegram", "1", "Tess", "tess")
OTHER_OP = Actor("telegram", "2", "Uma", "uma")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


# ---------------------------------------------------------------- the limiter
async def test_memory_limiter_allows_the_limit_then_says_when_the_oldest_hit_leaves_the_window():
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(3):
        assert await limiter.hit("k", 3, 60) is None
        clock.advance(seconds=10)
    assert await limiter.hit("k", 3, 60) == pytest.approx(30)  # the first hit, at 0 s, leaves at 60 s; now is 30 s
    assert await limiter.hit("other", 3, 60) is None  # keys are independent
    clock.advance(seconds=30)
    assert await limiter.hit("k", 3, 60) is None  # a slot freed, and a refused hit did not count
    assert await limiter.hit("k", 3, 60) == pytest.approx(10)


async def test_memory_limiter_is_a_sliding_window_not_a_fixed_one():
    """Two per 5 minutes means two in ANY 5 minutes: no burst of four around a window's edge."""
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    clock.advance(seconds=299)
    assert await limiter.hit("b", 2, 300) is None and await limiter.hit("b", 2, 300) is None
    clock.advance(seconds=2)
    assert await limiter.hit("b", 2, 300) == pytest.approx(298)


# ---------------------------------------------------------------- the settings
def test_rates_parse_and_describe_themselves():
    assert parse_rate("10/1m") == Rate(10, 60) and str(Rate(10, 60)) == "10 per minute"
    assert parse_rate(" 2 / 5M ") == Rate(2, 300) and str(Rate(2, 300)) == "2 per 5 minutes"
    assert parse_rate("100/1h") == Rate(100, 3600) and str(parse_rate("5/30s")) == "5 per 30 seconds"
    assert parse_rate("off") is None and parse_rate("0") is None and parse_rate("0/1m") is None


@pytest.mark.parametrize("bad", ["10", "10 per minute", "10/0m", "ten/1m", "10/1d", "", "-1/1m"])
def test_a_malformed_rate_setting_names_itself_and_the_allowed_form(bad):
    with pytest.raises(ConfigError) as e:
        Settings(_env_file=None, rate_limit_bulk_upload=bad).rate_limits()
    assert str(e.value).startswith("RATE_LIMIT_BULK_UPLOAD: ") and "10/1m" in str(e.value) and "off" in str(e.value)


def test_defaults_and_off():
    assert Settings(_env_file=None).rate_limits() == RateLimits(Rate(10, 60), Rate(2, 300), Rate(30, 60))
    assert Settings(_env_file=None, rate_limit_pay="off").rate_limits().pay is None


# ---------------------------------------------------------------- the engine
@pytest.fixture
def world():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    engine = Engine(chain=chain, uow=db, clock=clock, policy=Policy(operators=frozenset({OP.ref, OTHER_OP.ref})),
                    limiter=MemoryRateLimiter(clock), rates=RateLimits(pay=Rate(2, 60), bulk_upload=Rate(1, 300),
                                                                       default=Rate(3, 60)))
    return engine, chain, db, clock


async def test_a_limited_pay_changes_nothing_and_says_when_to_retry(world):
    engine, chain, db, clock = world
    for i in range(2):
        assert (await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key=f"tg-1-{i}")).kind == "ok"
        clock.advance(seconds=5)
    intents, keys, users = len(db.store.intents), len(db.store.keys), dict(db.store.users)
    reply = await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="tg-1-9")
    assert reply.kind == "error"
    assert reply.plain() == "Too many /pay commands: 2 per minute. Try again in 50 s."
    assert len(chain.signed) == 2 and len(db.store.intents) == intents and len(db.store.keys) == keys
    assert db.store.users == users
    audit = db.store.audit[-1]
    assert (audit.outcome, audit.command, audit.key, audit.actor_ref) == ("limited", "pay", "tg-1-9", OP.ref)
    assert "Try again in 50 s" in audit.detail

    # Another person is not limited; other commands count against their own rate.
    assert (await engine.handle_text(f"/pay {ADDR} 1", actor=OTHER_OP, key="tg-2-1")).kind == "ok"
    assert "Too many" not in (await engine.handle_text("/wallet", actor=OP, key="tg-1-w")).plain()

    # The window frees up: the same message, retried, now runs (the refusal stored nothing under its key).
    clock.advance(seconds=50)
    again = await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="tg-1-9")
    assert again.kind == "ok" and "Already handled" not in again.plain()
    assert len(chain.signed) == 4


async def test_a_redelivered_message_gets_its_first_answer_not_a_refusal(world):
    engine, chain, _, _ = world
    first = await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="tg-1-1")
    await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="tg-1-2")
    again = await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="tg-1-1")
    assert "Already handled" in again.plain() and first.plain().split("Tx: ")[1][:66] in again.plain()
    assert len(chain.signed) == 2


async def test_every_other_command_shares_the_default_rate(world):
    engine, _, db, _ = world
    for i, text in enumerate(["/help", "/wallet", "/history"]):
        assert "Too many" not in (await engine.handle_text(text, actor=OP, key=f"d{i}")).plain()
    reply = await engine.handle_text("/status pay-x", actor=OP, key="d9")
    assert reply.plain() == "Too many commands: 3 per minute. Try again in 60 s."
    assert db.store.audit[-1].outcome == "limited"


async def test_bulk_uploads_have_their_own_rate_and_a_limited_file_is_not_read(world):
    engine, _, db, clock = world
    assert (await engine.bulk_upload(OP, "b1", "pay.csv", payout_csv(3))).kind != "error"
    batches = len(db.store.batches)
    clock.advance(seconds=60)
    reply = await engine.bulk_upload(OP, "b2", "pay.csv", payout_csv(3))
    assert reply.plain() == "Too many /bulk uploads: 1 per 5 minutes. Try again in 4 min 0 s."
    assert len(db.store.batches) == batches
    assert "Too many" not in (await engine.handle_text("/help", actor=OP, key="h")).plain()


class DownLimiter:
    async def hit(self, key: str, limit: int, window_s: float) -> float | None:
        raise TransientError("ConnectionError", service="rate limiter (Redis)")


async def test_an_unreachable_limiter_lets_commands_through(caplog):
    engine = Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), policy=Policy(operators=frozenset({OP.ref})),
                    limiter=DownLimiter())
    assert (await engine.handle_text(f"/pay {ADDR} 1", actor=OP, key="k")).kind == "ok"
    assert "rate limit not checked" in caplog.text


async def test_without_a_limiter_nothing_is_limited():
    engine = Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), policy=Policy())
    for i in range(40):
        assert "Too many" not in (await engine.handle_text("/help", actor=OP, key=f"h{i}")).plain()
