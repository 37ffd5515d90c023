"""[CONTROLS] Security alerts to every admin, through the outbox, once per event: a rate limit or the on-chain
allowance hit, a low treasury or executor balance, a pasted secret, an interaction from a foreign Discord server.
Against fakes at the ports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.limits import MemoryRateLimiter
from core.commands import Actor
from core.engine import Engine
from core.guard import Removal
from core.model import NotificationType
from core.ports import ExecutorAllowance
from core.ratelimit import Rate, RateLimits
from core.replies import loads
from core.roles import Role, RoleGrant
from core.services import Policy
from tests.fakes import EXECUTOR, TREASURY, FakeChain, FakeClock, FakeDatabase, FakeNotifier, RecordingQueue
from tests.unit.test_bulk_engine import batch_id_of, payout_csv

ADA = Actor("telegram", "1", "Ada", "ada")  # ADMINS
DEE = Actor("discord", "9", "Dee", "dee")  # made an admin in chat
OLGA = Actor("telegram", "2", "Olga", "olga")  # OPERATORS
EVE = Actor("discord", "66", "Eve", "eve")
TO = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
CRO = 10**18
ADMINS = sorted([ADA.ref, DEE.ref])


@pytest.fixture
def world():
    chain, db, clock, queue = FakeChain(), FakeDatabase(), FakeClock(), RecordingQueue()
    policy = Policy(admins=frozenset({ADA.ref}), operators=frozenset({OLGA.ref}),
                    low_balance={"CRO": 50 * CRO, "USDC": 100 * 10**6}, low_gas=5 * CRO)
    chain.balances[(EXECUTOR.lower(), "CRO")] = 10 * CRO
    db.store.roles[DEE.ref] = RoleGrant(DEE.ref, Role.ADMIN, ADA.ref, clock.now())
    engine = Engine(chain=chain, uow=db, clock=clock, queue=queue, policy=policy,
                    limiter=MemoryRateLimiter(clock), rates=RateLimits(pay=Rate(2, 60), bulk_upload=None, default=None))
    return engine, chain, db, clock


def alerts(db: FakeDatabase) -> list[tuple[str, str, str]]:
    """(dedup key, admin, text) of every security alert in the outbox."""
    return [(n.dedup_key, n.user_ref, loads(n.body).plain()) for n in db.store.outbox
            if n.type is NotificationType.SECURITY_ALERT]


def one_per_admin(found: list[tuple[str, str, str]]) -> str:
    """Exactly one alert to each admin, the same text: returns it."""
    assert sorted(ref for _, ref, _ in found) == ADMINS, found
    assert len({text for _, _, text in found}) == 1
    return found[0][2]


async def say(engine: Engine, text: str, actor: Actor = OLGA, key: list[int] = [0]):  # noqa: B006 - a counter
    key[0] += 1
    return await engine.handle_text(text, actor=actor, key=f"al{key[0]}")


async def test_a_rate_limit_hit_alerts_every_admin_once_per_person_and_window(world):
    engine, _, db, clock = world
    for _ in range(2):
        assert (await say(engine, f"/pay {TO} 0.01 CRO")).kind != "error"
    assert not alerts(db)
    for _ in range(3):  # a flood: every refusal after the limit
        assert "Too many /pay commands" in (await say(engine, f"/pay {TO} 0.01 CRO")).plain()
    text = one_per_admin(alerts(db))
    assert text.startswith("Security alert: rate limit hit")
    assert "@olga (telegram:2) was refused /pay: Too many /pay commands: 2 per minute" in text
    clock.advance(seconds=61)  # the next window: the limit is hit again, and announced again
    for _ in range(3):
        await say(engine, f"/pay {TO} 0.01 CRO")
    assert len(alerts(db)) == 4


async def test_the_allowance_hit_alerts_every_admin_with_the_amounts_once_per_message(world):
    engine, chain, db, _ = world
    chain.allowances["CRO"] = ExecutorAllowance(10 * CRO, 86_400, 9 * CRO, datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
    for _ in range(2):  # the same message delivered twice: one event
        reply = await engine.handle_text(f"/pay {TO} 2 CRO", actor=OLGA, key="tg-allow-1")
        assert reply.kind == "error" and "refills at" in reply.plain()
    text = one_per_admin(alerts(db))
    assert text.startswith("Security alert: on-chain allowance hit")
    assert "@olga (telegram:2) was refused /pay" in text and "10 CRO per 24 h" in text and "1 CRO is left" in text
    assert "needs 2 CRO" in text and "refills at 2030-01-02 03:04 UTC" in text
    # the bulk path: execute refused by the allowance is a second event
    preview = await engine.bulk_upload(OLGA, "b1", "pay.csv", payout_csv(4))
    assert (await say(engine, f"/bulk execute {batch_id_of(preview)}")).kind == "error"
    bulk = [a for a in alerts(db) if "/bulk" in a[2]]
    assert one_per_admin(bulk) and "this batch needs 2 CRO" in bulk[0][2]
    notifier = FakeNotifier()
    assert await engine.deliver_notifications(notifier) == 4
    assert await engine.deliver_notifications(notifier) == 0  # delivered once


async def test_other_refusals_alert_nobody(world):
    engine, _, db, _ = world
    assert (await say(engine, f"/pay {TO} 2 CRO", actor=EVE)).kind == "error"  # not an operator
    assert (await say(engine, f"/pay {TO} 5000 CRO")).kind == "error"  # the treasury is short
    assert not alerts(db)


async def test_a_payment_that_takes_the_treasury_below_the_floor_alerts_once_a_day(world):
    engine, chain, db, clock = world
    chain.balances[(TREASURY.lower(), "CRO")] = 60 * CRO
    assert (await say(engine, f"/pay {TO} 5 CRO")).kind == "ok"  # 55 CRO left: above 50
    assert not alerts(db)
    assert (await say(engine, f"/pay {TO} 10 CRO")).kind == "ok"  # 45 CRO: below
    text = one_per_admin(alerts(db))
    assert text.startswith("Security alert: low CRO balance")
    assert f"The treasury {TREASURY} holds 45 CRO, below LOW_BALANCE_ALERT's 50 CRO" in text
    clock.advance(minutes=1)  # past the /pay rate limit (2 a minute here)
    assert (await say(engine, f"/pay {TO} 1 CRO")).kind == "ok"
    await engine.reconcile()  # the periodic pass: still below, same day
    assert len(alerts(db)) == 2
    clock.advance(days=1)
    await engine.reconcile()  # the next day, still below: reminded once
    assert len(alerts(db)) == 4
    assert all("USDC" not in text for _, _, text in alerts(db))  # 1000 USDC is above its floor


async def test_the_executors_gas_below_its_floor_alerts_and_a_chain_outage_does_not_fail_the_pass(world):
    engine, chain, db, _ = world
    chain.balances[(EXECUTOR.lower(), "CRO")] = 4 * CRO
    await engine.reconcile()
    text = one_per_admin(alerts(db))
    assert f"The executor (the bot's key) {EXECUTOR} holds 4 CRO, below LOW_BALANCE_ALERT's 5 CRO" in text
    assert "gas" in text
    chain.down = True
    assert await engine.reconcile() == 0  # logged, not raised
    assert len(alerts(db)) == 2


async def test_no_low_balance_alert_setting_reads_no_balance(world):
    _, chain, db, clock = world
    engine = Engine(chain=chain, uow=db, clock=clock, policy=Policy(admins=frozenset({ADA.ref})))
    chain.balances[(TREASURY.lower(), "CRO")] = 0
    chain.down = True  # any read would be refused and counted
    await engine.reconcile()
    assert chain.refused == 0 and not alerts(db)


async def test_a_pasted_secret_alerts_every_admin_naming_who_and_where_never_the_secret(world):
    engine, _, db, _ = world
    for _ in range(2):  # the same message reported twice (a redelivered update): one alert each
        await engine.secret_removed(EVE, "dc-msg-5", "#general on Team", "private key", Removal.DELETED)
    text = one_per_admin(alerts(db))
    assert text.startswith("Security alert: a pasted private key was seen")
    assert "@eve (discord:66) posted what looks like a private key in #general on Team; I deleted the message" in text
    await engine.secret_removed(EVE, "dc-msg-6", "#general on Team", "mixer note", Removal.REFUSED)
    assert "I could NOT delete it" in alerts(db)[-1][2] and len(alerts(db)) == 4


async def test_a_foreign_guild_alerts_once_per_person_server_and_hour(world):
    engine, _, db, clock = world
    for what in ("/pay", "/status", "a /confirm button"):
        await engine.foreign_guild(EVE, 4242, what)
    text = one_per_admin(alerts(db))
    assert "@eve (discord:66) used /pay from server 4242, which is not in DISCORD_GUILD_IDS" in text
    assert "refused; nothing was done" in text
    await engine.foreign_guild(Actor("discord", "67", "Finn"), 4242, "/help")  # someone else: announced
    clock.advance(hours=1)
    await engine.foreign_guild(EVE, 4242, "/pay")  # the next hour: announced again
    assert len(alerts(db)) == 6


async def test_the_engine_reports_never_raise_when_the_database_is_down(world):
    engine, _, db, _ = world
    db.down = True
    await engine.foreign_guild(EVE, 4242, "/pay")
    await engine.secret_removed(EVE, "k", "a group", "private key", Removal.GONE)
    db.down = False
    assert not alerts(db)
