"""Two bot processes reconciling one PostgreSQL database never replace the same transaction at once (M2)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.db import create_engine_for, make_uow_factory, upgrade
from core.commands import Actor
from core.engine import Engine
from core.model import IntentStatus
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, RecordingQueue

pytestmark = pytest.mark.postgres

OP = Actor("console", "op", "Operator")
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class SlowSigningChain(FakeChain):
    """Signing takes a moment (a real node simulates and reads fees first), so two reconcilers overlap."""

    async def sign_payment(self, order, nonce, *, bump=0):
        await asyncio.sleep(0.2)
        return await super().sign_payment(order, nonce, bump=bump)


async def test_m2_two_reconcilers_never_replace_at_once(new_postgres_database) -> None:
    url = new_postgres_database()
    await upgrade(url)
    chain, clock = SlowSigningChain(), FakeClock()
    chain.mine = False  # the payment stays in the mempool: stuck
    databases = [create_engine_for(url), create_engine_for(url)]
    try:
        first, second = (
            Engine(chain=chain, uow=make_uow_factory(db), clock=clock, queue=RecordingQueue(),
                   policy=Policy(operators=frozenset({OP.ref})))
            for db in databases
        )
        reply = await first.handle_text(f"/pay {ADDR} 1", actor=OP, key="m2-lock-1")
        assert "not confirmed yet" in reply.plain(), reply.plain()
        original = chain.sent[-1]
        clock.advance(minutes=10)

        await asyncio.gather(first.reconcile(), second.reconcile())

        replacements = [(nonce, bump) for _, nonce, bump in chain.signed if bump > 0]
        assert replacements == [(0, 3)]  # exactly one replacement signed
        async with make_uow_factory(databases[0])() as uow:
            (intent,) = await uow.intents.with_status(IntentStatus.SUBMITTED)
            attempts = await uow.intents.attempts(intent.id)
        assert [a.bump for a in attempts] == [0, 3] and intent.tx_hash == attempts[-1].tx_hash
        assert set(chain.sent) == {original, attempts[-1].raw_tx}  # and only that one broadcast
    finally:
        for db in databases:
            await db.dispose()
