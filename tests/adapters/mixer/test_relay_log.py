"""The relayer's record on both databases (SqlRelayLog) and in memory: nonces given back on a refused
broadcast, signed transactions kept, attempts counted as failed until settled, limits that say when they reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.db import create_engine_for, upgrade
from adapters.db.mixer_repositories import SqlRelayLog
from adapters.db.mixer_tables import MixerRelayRow
from adapters.mixer.relay import MemoryRelayLog, RelayLimits
from tests.fixtures.databases import db_url, new_postgres_database, postgres_url, sqlite_url  # noqa: F401

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sql_log(db_url):
    await upgrade(db_url)
    engine = create_engine_for(db_url)
    yield SqlRelayLog(engine), engine
    await engine.dispose()


def _address(tag: str) -> str:
    import secrets

    return "0x" + secrets.token_hex(19) + tag  # unique per test: the PostgreSQL database is shared


async def test_low_a_refused_broadcast_gives_the_relayers_nonce_back(sql_log):
    log, engine = sql_log
    relayer = _address("aa")
    with pytest.raises(RuntimeError):
        async with log.sending(31337, relayer, 7) as slot:
            assert slot.nonce == 7
            await slot.keep("0x" + "11" * 32, b"\x02signed")
            raise RuntimeError("the node refused it")
    async with log.sending(31337, relayer, 7) as slot:  # 7 again: no gap before the next transaction
        assert slot.nonce == 7
        await slot.keep("0x" + "22" * 32, b"\x02sent")
    async with log.sending(31337, relayer, 7) as slot:  # the node's count lags: the database is ahead
        assert slot.nonce == 8
        await slot.keep("0x" + "33" * 32, b"\x02next")
    async with log.sending(31337, relayer, 20) as slot:  # someone else used the account: the node is ahead
        assert slot.nonce == 20
    table = MixerRelayRow.__table__
    async with engine.connect() as connection:
        rows = (await connection.execute(select(table).where(table.c.relayer == relayer).order_by(table.c.nonce))).all()
    assert [(r.nonce, r.tx_hash, r.raw_tx) for r in rows] == [(7, "0x" + "22" * 32, b"\x02sent"),
                                                               (8, "0x" + "33" * 32, b"\x02next")]


@pytest.mark.parametrize("kind", ["sql", "memory"])
async def test_m3_attempts_count_as_failed_until_settled(kind, sql_log):
    log = sql_log[0] if kind == "sql" else MemoryRelayLog()
    note, other, user = _address("01"), _address("02"), _address("03")
    a = await log.attempt(note, user, T0)
    b = await log.attempt(other, user, T0 + timedelta(minutes=5))
    assert await log.failures(note, user, T0) == ([T0], [T0, T0 + timedelta(minutes=5)])  # unsettled: counted
    await log.settle(a, "PaymentFailed")
    await log.settle(b, None)  # relayed after all: forgotten
    assert await log.failures(note, user, T0) == ([T0], [T0])
    assert await log.failures(note, user, T0 + timedelta(minutes=1)) == ([], [])  # outside the window
    # A day later the row is gone (each row ties a user to a nullifier hash).
    later = await log.attempt(other, "someone-else", T0 + timedelta(days=1, minutes=1))
    await log.settle(later, None)
    assert await log.failures(note, user, T0 - timedelta(days=2)) == ([], [])


def test_m3_the_refusal_names_the_limit_and_when_it_resets():
    limits = RelayLimits(per_note=2, per_user=3)
    now = T0 + timedelta(minutes=30)
    assert limits.refusal([T0], [T0], now) is None
    note = limits.refusal([T0, T0 + timedelta(minutes=10)], [T0, T0 + timedelta(minutes=10)], now)
    assert "this note's withdrawals failed twice in the last hour" in note
    assert "at most twice per note per hour" in note and "after 13:00 UTC (in 30 minutes)" in note
    user_times = [T0 + timedelta(minutes=m) for m in (0, 5, 20, 25)]
    user = limits.refusal([], user_times, now)
    # Four failures against a limit of three: two must age out, so it frees at 12:05 + 1 h.
    assert "your withdrawals failed 4 times" in user and "at most 3 times per user" in user
    assert "after 13:05 UTC (in 35 minutes)" in user
    with pytest.raises(ValueError):
        RelayLimits(per_note=0)
