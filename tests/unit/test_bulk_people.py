"""Uploads naming people (@handle, Discord mention) resolve to linked wallets with /pay's rules; pasted lists
and BULK_MAX_ROWS through the engine, on fakes at the ports."""

from __future__ import annotations

import pytest

from core.bulk.policy import BulkPolicy
from core.commands import Actor
from core.engine import Engine
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue

TG_OP = Actor("telegram", "1", "Tess", "tess")
DC_OP = Actor("discord", "2", "Dana", "dana")
TG_ALICE = Actor("telegram", "5", "Alice", "alice")
DC_BOB = Actor("discord", "9", "Bob", "bob")
TG_CAROL = Actor("telegram", "6", "Carol", "carol")  # known, never linked a wallet
ALICE_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB_WALLET = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
OTHER = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


@pytest.fixture
def world():
    chain, db, clock = FakeChain(), FakeDatabase(), FakeClock()
    engine = Engine(chain=chain, uow=db, clock=clock, queue=RecordingQueue(),
                    policy=Policy(operators=frozenset({TG_OP.ref, DC_OP.ref})))
    return engine, db, clock


class Say:
    n = 0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def __call__(self, text: str, actor: Actor = TG_OP):
        Say.n += 1
        return await self.engine.handle_text(text, actor=actor, key=f"p{Say.n}")

    async def upload(self, data: str, actor: Actor = TG_OP, name: str = "pay.csv"):
        Say.n += 1
        return await self.engine.bulk_upload(actor, f"p{Say.n}", name, data.encode())


async def link(say: Say, actor: Actor, address: str) -> None:
    await say(f"/link {address}", actor)
    assert "Linked" in (await say("/link 0x" + "11" * 45 + address[2:].lower(), actor)).plain()


async def test_handles_and_mentions_resolve_to_linked_wallets(world):
    engine, db, _ = world
    say = Say(engine)
    await link(say, TG_ALICE, ALICE_WALLET)
    reply = await say.upload(f"recipient,amount\n@alice,1\n{OTHER},2\n@ALICE,3\n")
    text = reply.plain()
    assert reply.kind != "error" and "Bulk payout" in text, text
    assert len(db.store.batches) == 1
    batch = next(iter(db.store.batches.values()))
    assert batch.rows == 3 and batch.totals == {"CRO": 6 * 10**18} and batch.duplicates == 1  # @alice twice
    async with db() as uow:
        rows = await uow.batches.rows(batch.id)
    assert [(r.line, r.recipient) for r in rows] == [(2, ALICE_WALLET), (3, OTHER), (4, ALICE_WALLET)]


async def test_a_discord_mention_resolves_on_discord_only(world):
    engine, db, _ = world
    say = Say(engine)
    await link(say, DC_BOB, BOB_WALLET)
    on_discord = await say.upload("<@9>,1\n", actor=DC_OP)
    assert "Bulk payout" in on_discord.plain() and len(db.store.batches) == 1
    on_telegram = await say.upload("<@9>,1\n", actor=TG_OP)
    assert "line 1" in on_telegram.plain() and "Discord mention names nobody on Telegram" in on_telegram.plain()
    assert len(db.store.batches) == 1  # nothing more stored


async def test_an_unlinked_or_unknown_handle_is_an_error_on_its_line_and_nothing_is_stored(world):
    engine, db, _ = world
    say = Say(engine)
    await link(say, TG_ALICE, ALICE_WALLET)
    await say("/start", TG_CAROL)
    reply = await say.upload(f"recipient,amount\n@alice,1\n@carol,2\n@nobody,3\n{OTHER},4\n")
    text = reply.plain()
    assert "line 3" in text and "@carol has no linked wallet" in text
    assert "line 4" in text and "@nobody has no linked wallet" in text
    assert not db.store.batches


async def test_a_handle_not_seen_lately_is_refused_in_a_file(world):
    engine, db, clock = world
    say = Say(engine)
    await link(say, TG_ALICE, ALICE_WALLET)
    clock.advance(days=engine.services.policy.handle_fresh_for.days + 1)
    reply = await say.upload("@alice,1\n")
    assert "line 1" in reply.plain() and "has not been seen holding that handle" in reply.plain()
    assert not db.store.batches


async def test_a_pasted_list_is_uploaded_like_a_file(world):
    engine, db, _ = world
    say = Say(engine)
    await link(say, TG_ALICE, ALICE_WALLET)
    reply = await say(f"/bulk\n@alice 1.5\n{OTHER}=2\n")
    assert "Bulk payout" in reply.plain() and "pasted.txt" in reply.plain() and "(LIST)" in reply.plain()
    batch = next(iter(db.store.batches.values()))
    assert batch.filename == "pasted.txt" and batch.rows == 2
    bad = await say(f"/bulk\n{OTHER} 1\nthanks!\n")
    assert "line 2" in bad.plain() and "thanks!" in bad.plain() and len(db.store.batches) == 1


async def test_bulk_max_rows_is_the_chat_limit(world):
    engine, db, _ = world
    engine.services.bulk = BulkPolicy(max_rows=3)
    say = Say(engine)
    over = await say.upload("".join(f"{OTHER},1\n" for _ in range(4)))
    assert "the limit is 3 per file" in over.plain() and not db.store.batches
    ok = await say.upload("".join(f"{OTHER},1\n" for _ in range(3)))
    assert "Bulk payout" in ok.plain() and len(db.store.batches) == 1
