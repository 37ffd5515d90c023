"""M3 and the relayer's nonces on anvil: simulation with the mined fee fields, failed relays bounded per note and
per user (shared through the database), and two relayer processes on one database never sharing a nonce."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from eth_account import Account
from sqlalchemy import select

from adapters.chain.rpc import HttpNode
from adapters.db import create_engine_for, upgrade
from adapters.db.mixer_repositories import SqlRelayLog
from adapters.db.mixer_tables import MixerRelayRow
from adapters.mixer.note import Note
from adapters.mixer.prover import Prover
from adapters.mixer.relay import RelayLimits
from adapters.mixer.service import MixerService
from core.commands import Actor
from core.engine import Engine
from core.services import Policy
from tests.adapters.chain.ops import Actor as Sender
from tests.fakes import FakeChain, FakeClock, FakeDatabase
from tests.fixtures.databases import db_url, new_postgres_database, postgres_url, sqlite_url  # noqa: F401

from .conftest import DENOMINATION, MixerStack, fresh_address

pytestmark = pytest.mark.anvil

BOB = Actor("telegram", "7", "Bob", "bob")
ALICE = Actor("discord", "8", "Alice", "alice")
FEE = 10**15
CRO = FakeChain().tokens.native


async def deposited_note(stack: MixerStack) -> str:
    """A note whose deposit a user's wallet paid (dev account 9)."""
    note = Note.generate("cro", "0.1", stack.chain_id)
    await stack.depositor.deposit(note.commitment, DENOMINATION)
    return note.text


@pytest.fixture
async def dodger(mixer_stack, anvil):
    """A recipient that refuses payments only inside mined transactions (tx.gasprice > 0)."""
    deployer = Sender(mixer_stack.node, anvil.keys[7], mixer_stack.chain_id)
    return deployer, await deployer.deploy("SimulationDodger")


async def relayer(stack: MixerStack, key: str, prover, node=None, **kw) -> MixerService:
    pools = [(stack.deployment.mixer, stack.deployment.block_number)]
    return await MixerService.connect(node or stack.node, pools, key, token=CRO, fee=FEE, prover=prover, **kw)


def engine_for(service: MixerService) -> Engine:
    return Engine(chain=FakeChain(), uow=FakeDatabase(), clock=FakeClock(), policy=Policy(), mixer=service)


async def say(engine: Engine, text: str, actor: Actor = BOB):
    say.n = getattr(say, "n", 0) + 1
    return await engine.handle_text(text, actor=actor, key=f"lim{say.n}")


async def account_state(stack: MixerStack, address: str) -> tuple[int, int]:
    return await stack.node.balance(address), await stack.node.pending_nonce(address)


async def test_m3_a_recipient_that_refuses_only_mined_payments_is_refused_by_the_simulation_at_no_gas(
        mixer_stack, anvil, prover, dodger):
    """The simulation runs with the fee fields of the mined transaction, so tx.gasprice > 0 there too: the
    withdrawal is refused before anything is sent, and the relayer spends nothing."""
    _, reverter = dodger
    service = await relayer(mixer_stack, anvil.keys[8], prover)
    engine = engine_for(service)
    note = await deposited_note(mixer_stack)
    before = await account_state(mixer_stack, mixer_stack.relayer.sender)
    reply = await say(engine, f"/withdraw {note} {reverter}")
    assert reply.kind == "error", reply.plain()
    text = reply.plain()
    assert "recipient refused the payment" in text and "no gas spent" in text and "still good" in text, text
    assert await account_state(mixer_stack, mixer_stack.relayer.sender) == before  # no transaction, no gas
    assert await mixer_stack.node.balance(reverter) == 0
    # The note is untouched: to an ordinary address it withdraws.
    recipient = fresh_address()
    assert (await say(engine, f"/withdraw {note} {recipient}")).kind == "ok"
    assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE


async def test_m3_failed_relays_of_a_note_are_bounded_and_the_refusal_names_the_limit_and_its_reset(
        mixer_stack, anvil, prover, dodger):
    _, reverter = dodger
    clock = FakeClock()  # 12:00 UTC
    service = await relayer(mixer_stack, anvil.keys[8], prover, clock=clock,
                            limits=RelayLimits(per_note=2, per_user=5))
    engine = engine_for(service)
    note = await deposited_note(mixer_stack)
    before = await account_state(mixer_stack, mixer_stack.relayer.sender)
    first = await say(engine, f"/withdraw {note} {reverter}")
    assert "this note 1 of 2, you 1 of 5" in first.plain(), first.plain()
    clock.advance(minutes=10)
    second = await say(engine, f"/withdraw {note} {reverter}")
    assert "this note 2 of 2, you 2 of 5" in second.plain(), second.plain()
    clock.advance(minutes=10)  # 12:20
    refused = await say(engine, f"/withdraw {note} {fresh_address()}")
    text = refused.plain()
    assert refused.kind == "error" and "this note's withdrawals failed twice in the last hour" in text, text
    assert "at most twice per note per hour" in text and "after 13:00 UTC (in 40 minutes)" in text, text
    assert "still good" in text and "snowrail-" not in text
    assert await account_state(mixer_stack, mixer_stack.relayer.sender) == before  # not one transaction
    # The window slides: once the 12:00 failure is an hour old, the note may be tried again.
    clock.advance(minutes=41)
    recipient = fresh_address()
    done = await say(engine, f"/withdraw {note} {recipient}")
    assert done.kind == "ok", done.plain()
    assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE


async def test_m3_failed_relays_of_a_user_are_bounded_across_processes_sharing_the_database(
        mixer_stack, anvil, prover, dodger, db_url):
    """Two bot processes (two services, one database): the failures one records limit the other."""
    _, reverter = dodger
    await upgrade(db_url)
    db = create_engine_for(db_url)
    try:
        limits = RelayLimits(per_note=2, per_user=3)
        telegram = engine_for(await relayer(mixer_stack, anvil.keys[8], prover, relays=SqlRelayLog(db), limits=limits))
        discord = engine_for(await relayer(mixer_stack, anvil.keys[8], prover, relays=SqlRelayLog(db), limits=limits))
        user = Actor("telegram", uuid.uuid4().hex[:12], "Eve")  # a user of its own: the PostgreSQL database is shared
        n1, n2, n3 = [await deposited_note(mixer_stack) for _ in range(3)]
        assert "you 1 of 3" in (await say(telegram, f"/withdraw {n1} {reverter}", user)).plain()
        assert "this note 1 of 2, you 2 of 3" in (await say(discord, f"/withdraw {n2} {reverter}", user)).plain()
        assert "this note 2 of 2, you 3 of 3" in (await say(telegram, f"/withdraw {n2} {reverter}", user)).plain()
        refused = await say(discord, f"/withdraw {n3} {fresh_address()}", user)
        assert "your withdrawals failed 3 times in the last hour" in refused.plain(), refused.plain()
        assert "at most 3 times per user per hour" in refused.plain()
        # Another user is not held back by Eve's failures.
        recipient = fresh_address()
        assert (await say(discord, f"/withdraw {n3} {recipient}", ALICE)).kind == "ok"
        assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE
    finally:
        await db.dispose()


async def test_m3_a_withdrawal_that_reverts_once_mined_counts_and_the_next_is_refused_before_any_gas(
        mixer_stack, anvil, prover, dodger):
    """The recipient flips between the simulation and the block (front-running): the relayer pays for one
    reverted transaction, and then the note is refused before anything is proved or sent."""
    deployer, reverter = dodger
    assert (await deployer.send(reverter, _set_open(True), gas=100_000))["status"] == 1
    service = await relayer(mixer_stack, anvil.keys[8], prover, limits=RelayLimits(per_note=1, per_user=5))
    engine = engine_for(service)
    note = await deposited_note(mixer_stack)
    relayer_before = await account_state(mixer_stack, mixer_stack.relayer.sender)
    await mixer_stack.node.request("evm_setAutomine", [False])
    try:
        withdrawal = asyncio.create_task(say(engine, f"/withdraw {note} {reverter}"))
        for _ in range(1200):  # the relayer's transaction is waiting in the mempool
            if await mixer_stack.node.pending_nonce(mixer_stack.relayer.sender) > relayer_before[1]:
                break
            assert not withdrawal.done(), withdrawal.result().plain()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the relayer never sent its transaction")
        # The recipient closes itself with a higher tip, so it goes first in the same block.
        await _send_unmined(mixer_stack, deployer, reverter, _set_open(False))
        await mixer_stack.node.request("evm_mine", [])
    finally:
        await mixer_stack.node.request("evm_setAutomine", [True])
    failed = await asyncio.wait_for(withdrawal, 60)
    text = failed.plain()
    assert failed.kind == "error" and "failed on chain" in text and "still good" in text, text
    assert "this note 1 of 1" in text, text
    spent_gas = await account_state(mixer_stack, mixer_stack.relayer.sender)
    assert spent_gas[0] < relayer_before[0] and spent_gas[1] == relayer_before[1] + 1  # one mined revert
    refused = await say(engine, f"/withdraw {note} {fresh_address()}")
    assert "at most once per note per hour" in refused.plain(), refused.plain()
    assert await account_state(mixer_stack, mixer_stack.relayer.sender) == spent_gas  # nothing more spent


def _set_open(value: bool) -> bytes:
    from tests.adapters.chain.ops import call_data

    return call_data("setOpen(bool)", ["bool"], [value])


async def _send_unmined(stack: MixerStack, sender: Sender, to: str, data: bytes) -> None:
    base = await stack.node.base_fee()
    tx = {"type": 2, "chainId": stack.chain_id, "nonce": await stack.node.pending_nonce(sender.address), "to": to,
          "value": 0, "data": data, "gas": 100_000, "maxFeePerGas": 2 * base + 50 * 10**9,
          "maxPriorityFeePerGas": 50 * 10**9}
    await stack.node.send_raw(bytes(Account.from_key(sender.key).sign_transaction(tx).raw_transaction))


class _Rendezvous:
    """Our Node port over HTTP, except that pending_nonce waits until both relayers ask: without a shared
    reservation they would both read the same nonce."""

    def __init__(self, url: str, barrier: threading.Barrier) -> None:
        self._node, self._barrier = HttpNode(url), barrier

    def __getattr__(self, name: str):
        return getattr(self._node, name)

    async def pending_nonce(self, address: str) -> int:
        await asyncio.to_thread(self._barrier.wait, 60)
        return await self._node.pending_nonce(address)


async def test_low_two_relayer_processes_sharing_a_database_withdraw_at_once_with_distinct_nonces(
        mixer_stack, anvil, db_url):
    """Each relayer runs on its own event loop (as two bot processes would: nothing in memory is shared)."""
    await upgrade(db_url)
    notes = [await deposited_note(mixer_stack) for _ in range(2)]
    recipients = [fresh_address() for _ in notes]
    barrier = threading.Barrier(2)
    key = anvil.keys[8]

    def process(note: str, recipient: str, who: str):
        async def run():
            node, db, prover = _Rendezvous(anvil.url, barrier), create_engine_for(db_url), Prover()
            await prover.start()
            try:
                service = await relayer(mixer_stack, key, prover, node=node, relays=SqlRelayLog(db))
                return await service.withdraw(note, recipient, who)
            finally:
                await prover.close()
                await db.dispose()
                await node.close()

        return asyncio.run(run())

    done = await asyncio.gather(*(asyncio.to_thread(process, n, r, f"telegram:{i}")
                                  for i, (n, r) in enumerate(zip(notes, recipients))))
    for recipient in recipients:
        assert await mixer_stack.node.balance(recipient) == DENOMINATION - FEE
    nonces = [(await mixer_stack.node.transaction(d.tx_hash))["nonce"] for d in done]
    assert len(set(nonces)) == 2, nonces
    # Each signed transaction was stored with its nonce.
    db = create_engine_for(db_url)
    try:
        async with db.connect() as connection:
            rows = (await connection.execute(select(MixerRelayRow.__table__).where(
                MixerRelayRow.__table__.c.relayer == Account.from_key(key).address.lower()))).all()
    finally:
        await db.dispose()
    stored = {row.nonce: row.tx_hash for row in rows}
    assert {stored.get(n) for n in nonces} == {d.tx_hash for d in done}
