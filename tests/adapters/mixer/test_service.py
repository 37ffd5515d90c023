"""/mix and /withdraw through the engine with the real mixer adapter on anvil: chat in, CRO out."""

from __future__ import annotations

import re

import pytest
from eth_account import Account

from adapters.mixer.note import Note, parse_note
from adapters.mixer.service import MixerService
from core.commands import Actor
from core.engine import Engine
from core.replies import loads
from core.services import Policy
from tests.fakes import FakeChain, FakeClock, FakeDatabase, RecordingQueue
from tests.fixtures.databases import sqlite_url  # noqa: F401  (a fixture)

from .conftest import DENOMINATION, fresh_address

pytestmark = pytest.mark.anvil

OP = Actor("telegram", "1", "Operator")
BOB = Actor("telegram", "7", "Bob", "bob")
FEE = 10**15


@pytest.fixture
async def service(mixer_stack, prover, anvil, treasury):
    assert treasury.chain_id == anvil.chain_id
    pools = [(mixer_stack.deployment.mixer, mixer_stack.deployment.block_number)]
    return await MixerService.connect(mixer_stack.node, pools, anvil.keys[8], token=treasury.tokens.native, fee=FEE,
                                      prover=prover)


@pytest.fixture
def engine(service, treasury):
    """An operator's /mix deposits from the anvil stack's Settlement treasury."""
    return Engine(chain=treasury, uow=FakeDatabase(), clock=FakeClock(), queue=RecordingQueue(),
                  policy=Policy(operators=frozenset({OP.ref})), mixer=service)


async def say(engine, text, actor=OP):
    say.n = getattr(say, "n", 0) + 1
    return await engine.handle_text(text, actor=actor, key=f"svc{say.n}")


def note_in(reply) -> str:
    return re.search(r"snowrail-\S+", reply.plain()).group(0)


async def test_operator_mix_then_user_withdraw_over_chat(engine, mixer_stack, treasury):
    node, pool = mixer_stack.node, mixer_stack.deployment.mixer
    before = {a: await node.balance(a) for a in (treasury.treasury, pool, mixer_stack.relayer.sender)}
    mixed = await say(engine, "/mix 0.1")
    assert mixed.kind == "ok", mixed.plain()
    note = note_in(mixed)
    assert "leaf #" in mixed.plain() and "from the treasury" in mixed.plain()
    # The treasury paid exactly the denomination into the pool; the relayer's wallet was not touched.
    assert await node.balance(treasury.treasury) == before[treasury.treasury] - DENOMINATION
    assert await node.balance(pool) == before[pool] + DENOMINATION
    assert await node.balance(mixer_stack.relayer.sender) == before[mixer_stack.relayer.sender]
    (intent,) = engine.services.uow.store.intents.values()
    assert intent.status.value == "confirmed" and intent.recipient == pool
    assert intent.mixer_commitment == f"0x{parse_note(note).commitment:064x}"
    assert parse_note(note).commitment in [e.commitment for e in await mixer_stack.relayer.deposits(0)]
    recipient = fresh_address()
    done = await say(engine, f"/withdraw {note} {recipient}", actor=BOB)
    assert done.kind == "ok" and done.private, done.plain()
    assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE
    again = await say(engine, f"/withdraw {note} {fresh_address()}", actor=BOB)
    assert again.kind == "error" and "this note has already been spent" in again.plain().lower()


async def test_user_pays_the_deposit_from_their_wallet(engine, mixer_stack):
    reply = await say(engine, "/mix 0.1", actor=BOB)
    (button,) = reply.buttons
    m = re.fullmatch(r"ethereum:(0x[0-9a-fA-F]{40})@(\d+)/deposit\?uint256=(\d+)&value=(\d+)", button.url)
    assert m and m.group(1) == mixer_stack.deployment.mixer and int(m.group(4)) == DENOMINATION
    assert int(m.group(3)) == parse_note(note_in(reply)).commitment
    (qr,) = reply.files
    assert qr.mime == "image/png" and qr.content.startswith(b"\x89PNG")
    assert await engine.watch_mixer() == 0
    # The wallet does what the link says; the watcher tells Bob privately.
    _, leaf = await mixer_stack.depositor.deposit(int(m.group(3)), int(m.group(4)))
    assert await engine.watch_mixer() == 1
    (told,) = [n for n in engine.services.uow.store.outbox if n.type.value == "deposit_confirmed"]
    assert told.user_ref == BOB.ref and f"leaf #{leaf}" in loads(told.body).plain()
    assert "snowrail-" not in told.body
    recipient = fresh_address()
    done = await say(engine, f"/withdraw {note_in(reply)} {recipient}", actor=BOB)
    assert done.kind == "ok", done.plain()
    assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE


async def test_notes_for_another_chain_pool_or_undeposited_are_explained(engine, mixer_stack):
    other_chain = Note.generate("cro", "0.1", 25).text
    assert "note chainId: this note is for chain 25" in (await say(engine, f"/withdraw {other_chain} {fresh_address()}")).plain()
    other_pool = Note.generate("cro", "10", mixer_stack.chain_id).text
    assert "note amount:" in (await say(engine, f"/withdraw {other_pool} {fresh_address()}")).plain()
    unpaid = Note.generate("cro", "0.1", mixer_stack.chain_id).text
    assert "No deposit with this note" in (await say(engine, f"/withdraw {unpaid} {fresh_address()}")).plain()
    assert "no 0.5 CRO pool" in (await say(engine, "/mix 0.5")).plain()


async def test_stale_tree_is_resynced_before_proving(engine, service, mixer_stack):
    note = note_in(await say(engine, "/mix 0.1"))
    sync = next(iter(service._syncs.values()))
    await sync.sync()
    sync.tree.append(12345)  # a leaf the chain never had: our root is now unknown to the pool
    recipient = fresh_address()
    done = await say(engine, f"/withdraw {note} {recipient}", actor=BOB)
    assert done.kind == "ok", done.plain()
    assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE


async def test_relayer_short_of_gas(mixer_stack, prover, anvil, treasury):
    chain = treasury
    rich = Engine(chain=chain, uow=FakeDatabase(), clock=FakeClock(), policy=Policy(operators=frozenset({OP.ref})),
                  mixer=await MixerService.connect(mixer_stack.node, [(mixer_stack.deployment.mixer, 0)],
                                                   anvil.keys[8], token=chain.tokens.native, prover=prover))
    note = note_in(await say(rich, "/mix 0.1"))
    poor = Engine(chain=chain, uow=FakeDatabase(), clock=FakeClock(), policy=Policy(),
                  mixer=await MixerService.connect(mixer_stack.node, [(mixer_stack.deployment.mixer, 0)],
                                                   Account.create().key.hex(), token=chain.tokens.native,
                                                   prover=prover))
    reply = await say(poor, f"/withdraw {note} {fresh_address()}", actor=BOB)
    assert reply.kind == "error" and "short of gas" in reply.plain() and "still good" in reply.plain()


async def test_pools_of_several_denominations_share_hasher_and_verifier(mixer_stack, prover, anvil, treasury):
    from adapters.mixer.deploy import deploy_pools

    pools = await deploy_pools(mixer_stack.node, anvil.keys[7], ["1", "10"])
    assert pools[0].hasher == pools[1].hasher and pools[0].verifier == pools[1].verifier
    for p in pools:
        await treasury.allow(p.mixer)
    chain = treasury
    service = await MixerService.connect(
        mixer_stack.node, ",".join(f"{p.mixer}@{p.block_number}" for p in pools), anvil.keys[8],
        token=chain.tokens.native, prover=prover)
    assert [str(a) for a in service.denominations()] == ["1 CRO", "10 CRO"]
    engine = Engine(chain=chain, uow=FakeDatabase(), clock=FakeClock(), policy=Policy(operators=frozenset({OP.ref})),
                    mixer=service)
    reply = await say(engine, "/mix 1")
    note = re.search(r"snowrail-cro-1-\d+-0x[0-9a-f]+", reply.plain()).group(0)
    recipient = fresh_address()
    assert (await say(engine, f"/withdraw {note} {recipient}", actor=BOB)).kind == "ok"
    assert await mixer_stack.node.balance(recipient) == 10**18


async def test_the_same_note_twice_at_once_pays_once(engine, mixer_stack):
    import asyncio

    note = note_in(await say(engine, "/mix 0.1"))
    a, b = fresh_address(), fresh_address()
    replies = await asyncio.gather(say(engine, f"/withdraw {note} {a}", actor=BOB),
                                   say(engine, f"/withdraw {note} {b}", actor=BOB))
    assert sorted(r.kind for r in replies) == ["error", "ok"]
    assert "being withdrawn right now" in next(r for r in replies if r.kind == "error").plain()
    paid = [await mixer_stack.node.balance(x) for x in (a, b)]
    assert sorted(paid) == [0, DENOMINATION - FEE]


async def test_two_pools_of_one_denomination_are_a_configuration_error(mixer_stack, prover, anvil):
    d = mixer_stack.deployment
    with pytest.raises(ValueError, match="one pool per denomination"):
        await MixerService.connect(mixer_stack.node, f"{d.mixer},{d.mixer}", anvil.keys[8],
                                   token=FakeChain().tokens.native, prover=prover)


async def test_treasury_deposits_into_two_pools_at_once_never_reuse_a_nonce(mixer_stack, prover, anvil, treasury,
                                                                            sqlite_url):
    """Operator deposits into two pools at once, all signed by the executor: every one lands. The executor's
    nonces are reserved in the database, so this runs on a real one (SQLite)."""
    import asyncio

    from adapters.db import create_engine_for, make_uow_factory, upgrade
    from adapters.mixer.deploy import deploy_pools

    pools = await deploy_pools(mixer_stack.node, anvil.keys[7], ["0.2", "0.3"])
    for p in pools:
        await treasury.allow(p.mixer)
    chain = treasury
    service = await MixerService.connect(mixer_stack.node, [(p.mixer, p.block_number) for p in pools],
                                         anvil.keys[8], token=chain.tokens.native, prover=prover)
    await upgrade(sqlite_url)
    db = create_engine_for(sqlite_url)
    engine = Engine(chain=chain, uow=make_uow_factory(db), clock=FakeClock(),
                    policy=Policy(operators=frozenset({OP.ref})), mixer=service)
    try:
        replies = await asyncio.gather(*(say(engine, f"/mix {a}") for a in ("0.2", "0.3", "0.2", "0.3")))
    finally:
        await db.dispose()
    assert all("leaf #" in r.plain() for r in replies), [r.plain() for r in replies]
