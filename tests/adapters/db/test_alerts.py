"""Security alerts on SQLite and PostgreSQL: two bot processes that see the same event queue one alert per admin, and
two deliverers send each one exactly once (the outbox's dedup key and claim)."""

from __future__ import annotations

import asyncio
from collections import Counter

from adapters.db import create_engine_for, make_uow_factory
from core.commands import Actor
from core.engine import Engine
from core.guard import Removal
from core.ports import Delivery
from core.services import Policy
from tests.fakes import FakeChain, FakeClock

ADMINS = frozenset({"telegram:1", "discord:5", "telegram:3"})
EVE = Actor("discord", "66", "Eve", "eve")


class Recorder:
    def __init__(self, sends: Counter) -> None:
        self.sends = sends

    async def send(self, user_ref, reply):
        await asyncio.sleep(0.005)  # yields between sends, as a network would
        self.sends[(user_ref, reply.plain().split("\n", 1)[0])] += 1
        return Delivery(ok=True)


async def test_two_processes_raise_each_alert_once_and_two_deliverers_send_it_once(migrated_url: str) -> None:
    engines = [create_engine_for(migrated_url), create_engine_for(migrated_url)]  # two processes' pools
    try:
        clock = FakeClock()
        bots = [Engine(chain=FakeChain(), uow=make_uow_factory(e), clock=clock, policy=Policy(admins=ADMINS))
                for e in engines]
        # both processes see the same foreign interaction and the same pasted key (a redelivered update)
        await asyncio.gather(*(b.foreign_guild(EVE, 4242, "/pay") for b in bots))
        await asyncio.gather(*(b.secret_removed(EVE, "dc-msg-1", "#general", "private key", Removal.DELETED)
                               for b in bots))
        sends: Counter = Counter()
        sent = await asyncio.gather(*(b.deliver_notifications(Recorder(sends), limit=100) for b in bots))
        ours = {k: v for k, v in sends.items() if k[1].startswith("Security alert")}
        assert sorted(ours) == sorted((ref, head) for ref in ADMINS for head in (
            "Security alert: interaction from an unknown Discord server", "Security alert: a pasted private key was seen"))
        assert set(ours.values()) == {1}, ours  # each admin got each alert exactly once
        assert sum(sent) >= 6
        async with make_uow_factory(engines[0])() as u:
            assert [n for n in await u.outbox.pending() if n.type.value == "security_alert"] == []
    finally:
        for e in engines:
            await e.dispose()
