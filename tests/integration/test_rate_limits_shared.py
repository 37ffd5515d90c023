"""Rate limits in Redis: the limiter against a real Redis, and two bot processes (two builds on one PostgreSQL
database and one Redis, on anvil) counting against the same limits."""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import pytest
from redis import Redis
from redis.exceptions import RedisError

from adapters.limits.redis_limiter import PREFIX, RedisRateLimiter
from bot.bootstrap import build
from core.commands import Actor
from core.errors import TransientError
from tests.fakes import RecordingQueue
from tests.integration.test_pay_live import fresh_address, settings_for

pytestmark = pytest.mark.postgres

# A database number of its own (other suites use 0, 7, 8, 9, 13, 14); each test deletes only its own keys.
REDIS_URL = os.environ.get("TEST_RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture
def redis():
    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except RedisError as e:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({type(e).__name__})", pytrace=False)
    made: list[str] = []
    yield connection, made
    for pattern in made:
        for key in connection.scan_iter(match=pattern):
            connection.delete(key)
    connection.close()


async def test_redis_limiter_counts_a_sliding_window_and_refused_hits_do_not_count(redis):
    connection, made = redis
    prefix = f"test:ratelimit:{secrets.token_hex(4)}:"
    made.append(prefix + "*")
    limiter = RedisRateLimiter(REDIS_URL, prefix=prefix)
    try:
        assert await limiter.hit("a", 2, 60) is None and await limiter.hit("a", 2, 60) is None
        wait = await limiter.hit("a", 2, 60)
        assert wait is not None and 59 < wait <= 60
        assert connection.zcard(prefix + "a") == 2  # the refused hit was not added
        assert 0 < connection.pttl(prefix + "a") <= 60_000  # idle keys expire: nothing lingers
        assert await limiter.hit("b", 2, 60) is None

        # The window frees up, by Redis' own clock.
        assert await limiter.hit("short", 1, 0.3) is None
        assert await limiter.hit("short", 1, 0.3) is not None
        deadline = time.monotonic() + 5
        while (wait := await limiter.hit("short", 1, 0.3)) is not None:
            assert time.monotonic() < deadline, "the window never freed up"
            await asyncio.sleep(wait)
    finally:
        await limiter.close()


async def test_an_unreachable_redis_is_a_transient_error():
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", timeout=0.2)
    try:
        with pytest.raises(TransientError) as e:
            await limiter.hit("a", 1, 1)
        assert "127.0.0.1" not in e.value.message  # the URL (which may hold a password) is never repeated
    finally:
        await limiter.close()


async def test_two_bot_processes_share_the_limits(anvil_stack, new_postgres_database, tmp_path, redis):
    _, made = redis
    alice = Actor("telegram", f"rl{secrets.token_hex(4)}", "Alice")
    bob = Actor("telegram", f"rl{secrets.token_hex(4)}", "Bob")
    made += [f"{PREFIX}*:{alice.ref}", f"{PREFIX}*:{bob.ref}"]
    database = new_postgres_database()
    limits = {"REDIS_URL": REDIS_URL, "RATE_LIMIT_PAY": "2/1m", "RATE_LIMIT_DEFAULT": "3/1m"}
    first = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "a", **limits),
                        extra_operators=frozenset({alice.ref, bob.ref}), queue=RecordingQueue())
    try:
        second = await build(settings_for(anvil_stack.url, anvil_stack, database, tmp_path / "b", **limits),
                             extra_operators=frozenset({alice.ref, bob.ref}), queue=RecordingQueue(), migrate=False)
        try:
            to = fresh_address()
            assert (await first.engine.handle_text(f"/pay {to} 0.001", actor=alice, key="rl-1")).kind == "ok"
            assert (await second.engine.handle_text(f"/pay {to} 0.001", actor=alice, key="rl-2")).kind == "ok"
            for app, key in ((first, "rl-3"), (second, "rl-4")):
                reply = await app.engine.handle_text(f"/pay {to} 0.001", actor=alice, key=key)
                assert reply.kind == "error" and reply.plain().startswith("Too many /pay commands: 2 per minute. Try again in ")
                async with app.uow() as uow:
                    assert await uow.keys.get(key) is None  # nothing recorded: the key is free for a later retry
            async with first.uow() as uow:
                mine = await uow.intents.for_actor(alice.ref, 10)
                audit = [e for e in await uow.audit.recent(20) if e.actor_ref == alice.ref]
            assert len(mine) == 2
            assert sorted(e.outcome for e in audit) == ["limited", "limited", "ok", "ok"]
            assert await anvil_stack_paid(first, to) == 2 * 10**15

            # A redelivery of a paid message is answered from the first delivery, not refused.
            again = await second.engine.handle_text(f"/pay {to} 0.001", actor=alice, key="rl-1")
            assert "Already handled" in again.plain()
            # Another person is not limited; other commands count against their own rate, in both processes.
            assert (await second.engine.handle_text(f"/pay {to} 0.001", actor=bob, key="rl-5")).kind == "ok"
            for app in (first, second, first):
                assert "Too many" not in (await app.engine.handle_text("/help", actor=alice, key="h")).plain()
            assert "Too many commands: 3 per minute" in (await second.engine.handle_text("/help", actor=alice, key="h")).plain()
        finally:
            await second.close()
    finally:
        await first.close()


async def anvil_stack_paid(app, address: str) -> int:
    return await app.chain.balance(address, app.chain.tokens.get("CRO"))
