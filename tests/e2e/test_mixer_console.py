"""The privacy pool through the installed `snowrail console` on anvil: /mix as operator, /withdraw as anyone."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest
from eth_account import Account

from adapters.chain import settlement as st
from adapters.chain.rpc import HttpNode
from adapters.mixer.deploy import deploy_mixer

from tests.adapters.chain.ops import Actor

from .test_console import rpc, run_console

pytestmark = pytest.mark.anvil
NOTE = re.compile(r"snowrail-cro-0\.1-\d+-0x[0-9a-f]{124}")


@pytest.fixture
async def pool_env(anvil_stack):
    node = HttpNode(anvil_stack.url)
    try:
        deployment = await deploy_mixer(node, anvil_stack.anvil.keys[7], 10**17)
        # The Settlement's owner lets the treasury deposit into this pool (an operator's /mix).
        owner = Actor(node, anvil_stack.owner_key, anvil_stack.deployment.chain_id)
        allowed = await owner.send(anvil_stack.deployment.settlement, st.set_mixer_pool_calldata(deployment.mixer))
        assert allowed["status"] == 1
    finally:
        await node.close()
    return anvil_stack.env() | {
        "MIXER_CONTRACT_ADDRESS": f"{deployment.mixer}@{deployment.block_number}",
        "MIXER_RELAYER_KEY": anvil_stack.anvil.keys[6],
        "MIXER_RELAYER_FEE": "0.002",
    }


def test_mix_then_withdraw_over_the_console(tmp_path, anvil_stack, pool_env):
    settlement = anvil_stack.deployment.settlement
    treasury = int(rpc(anvil_stack.url, "eth_getBalance", [settlement, "latest"]), 16)
    mixed = run_console(tmp_path, "/mix 0.1\n", "--rpc", anvil_stack.url, env_extra=pool_env)
    assert mixed.returncode == 0, mixed.stderr
    assert int(rpc(anvil_stack.url, "eth_getBalance", [settlement, "latest"]), 16) == treasury - 10**17
    note = NOTE.search(mixed.stdout)
    assert note, mixed.stdout
    assert "lost for good" in mixed.stdout and "leaf #0" in mixed.stdout and "from the treasury" in mixed.stdout
    recipient = Account.create().address
    done = run_console(tmp_path, f"/withdraw {note.group(0)} {recipient}\n/withdraw {note.group(0)} {recipient}\n",
                       "--rpc", anvil_stack.url, env_extra=pool_env)
    assert done.returncode == 0, done.stderr
    assert "Withdrawn: 0.098 CRO" in done.stdout, done.stdout
    assert "this note has already been spent" in done.stdout.lower()
    assert int(rpc(anvil_stack.url, "eth_getBalance", [recipient, "latest"]), 16) == 98 * 10**15
    assert note.group(0) not in done.stderr + mixed.stderr
    # The pool's deposits are cached in the bot's database (public data only), no longer in a file.
    databases = list(tmp_path.rglob("chain-*.sqlite3"))
    assert len(databases) == 1, databases
    with sqlite3.connect(databases[0]) as db:
        assert db.execute("SELECT count(*) FROM mixer_deposits").fetchone()[0] >= 1
        assert db.execute("SELECT count(*) FROM mixer_sync").fetchone()[0] == 1
    assert not [p for p in tmp_path.rglob("mixer") if p.is_dir()]
    # Nothing the bot wrote (SQLite database, logs) holds the note or its key.
    key = note.group(0).rsplit("-", 1)[1][2:].encode()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key[:40] not in data and key[-40:] not in data, path


async def test_bootstrap_runs_the_deposit_watcher(tmp_path, anvil_stack, pool_env, monkeypatch):
    """Built from settings, the app watches the pool: a wallet deposit from a /mix link is announced."""
    from bot import mixer_wiring
    from bot.bootstrap import build
    from bot.settings import Settings
    from core.commands import Actor
    from core.replies import loads

    monkeypatch.setattr(mixer_wiring, "WATCH_SECONDS", 0.2)
    env = {k.lower(): v for k, v in pool_env.items()}
    app = await build(Settings(data_dir=tmp_path, **env))  # env carries RPC_URL
    assert not [n for n in app.notes if "may not deposit" in n], app.notes  # the pool is allow-listed
    try:
        bob = Actor("telegram", "7", "Bob")
        reply = await app.engine.handle_text("/mix 0.1", actor=bob, key="tg-7-1")
        commitment = re.search(r"uint256=(\d+)", reply.buttons[0].url).group(1)
        mixer = app.engine.services.mixer
        pool = next(iter(mixer._pools.values()))
        depositor = type(pool)(pool.node, pool.address, anvil_stack.anvil.keys[5], chain_id=pool.chain_id)
        await depositor.deposit(int(commitment), 10**17)
        for _ in range(50):
            async with app.uow() as uow:
                pending = [n for n in await uow.outbox.pending() if n.type.value == "deposit_confirmed"]
            if pending:
                break
            await asyncio.sleep(0.1)
        assert pending and pending[0].user_ref == bob.ref
        assert "is confirmed: leaf #" in loads(pending[0].body).plain()
    finally:
        await app.close()
    assert app.mixer_watch is not None and not app.mixer_watch.running


async def test_a_pool_the_treasury_may_not_deposit_into_is_reported_at_start(tmp_path, anvil_stack, pool_env):
    """...and an operator's /mix into it is refused by the chain before anything is sent: no note, nothing paid."""
    from bot.bootstrap import build
    from bot.settings import Settings
    from core.commands import Actor as ChatActor

    node = HttpNode(anvil_stack.url)
    try:
        unlisted = await deploy_mixer(node, anvil_stack.anvil.keys[7], 10**18)
    finally:
        await node.close()
    env = {k.lower(): v for k, v in pool_env.items()} | {"mixer_contract_address": unlisted.mixer}
    app = await build(Settings(data_dir=tmp_path, operators="telegram:1", **env))
    try:
        assert [n for n in app.notes if f"may not deposit into the mixer pool(s) {unlisted.mixer}" in n], app.notes
        treasury = await app.chain.node.balance(anvil_stack.deployment.settlement)
        reply = await app.engine.handle_text("/mix 1", actor=ChatActor("telegram", "1", "Op"), key="tg-1-1")
        assert reply.kind == "error" and "not a mixer pool the treasury may deposit into" in reply.plain(), reply.plain()
        assert "snowrail-" not in reply.plain()
        assert await app.chain.node.balance(anvil_stack.deployment.settlement) == treasury
    finally:
        await app.close()


def test_m3_failed_relays_are_bounded_across_console_processes(tmp_path, anvil_stack, pool_env):
    """Two console runs are two processes on one SQLite database: the failure the first records (its
    simulation, with the mined fee fields, caught a recipient that refuses mined payments) limits the second."""
    env = pool_env | {"MIXER_FAILED_RELAYS_PER_NOTE_PER_HOUR": "1"}
    mixed = run_console(tmp_path, "/mix 0.1\n", "--rpc", anvil_stack.url, env_extra=env)
    note = NOTE.search(mixed.stdout)
    assert note, mixed.stdout + mixed.stderr

    async def deploy_dodger() -> str:
        node = HttpNode(anvil_stack.url)
        try:
            deployer = Actor(node, anvil_stack.anvil.keys[7], anvil_stack.deployment.chain_id)
            return await deployer.deploy("SimulationDodger")
        finally:
            await node.close()

    dodger = asyncio.run(deploy_dodger())
    relayer = Account.from_key(env["MIXER_RELAYER_KEY"]).address
    before = int(rpc(anvil_stack.url, "eth_getBalance", [relayer, "latest"]), 16)
    first = run_console(tmp_path, f"/withdraw {note.group(0)} {dodger}\n", "--rpc", anvil_stack.url, env_extra=env)
    assert first.returncode == 0, first.stderr
    assert "recipient refused the payment" in first.stdout and "this note 1 of 1" in first.stdout, first.stdout
    recipient = Account.create().address
    second = run_console(tmp_path, f"/withdraw {note.group(0)} {recipient}\n", "--rpc", anvil_stack.url, env_extra=env)
    assert second.returncode == 0, second.stderr
    assert "failed once in the last hour" in second.stdout, second.stdout
    assert "at most once per note per hour" in second.stdout and "Try again after" in second.stdout
    assert int(rpc(anvil_stack.url, "eth_getBalance", [relayer, "latest"]), 16) == before  # no gas spent
    assert int(rpc(anvil_stack.url, "eth_getBalance", [recipient, "latest"]), 16) == 0
    (database,) = tmp_path.rglob("chain-*.sqlite3")
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT note_id, reason FROM mixer_relay_failures").fetchall()
    assert [reason for _, reason in rows] == ["PaymentFailed"] and rows[0][0].startswith("0x")
    key = note.group(0).rsplit("-", 1)[1][2:]
    assert key[:40].encode() not in database.read_bytes() and key[-40:].encode() not in database.read_bytes()


def test_low_withdraw_with_swapped_arguments_never_echoes_the_note_over_the_console(tmp_path, anvil_stack):
    secret = Account.create().key.hex().removeprefix("0x") * 2  # 128 hex digits, shaped like a note's key part
    note = f"tornado-cro-0.1-{anvil_stack.deployment.chain_id}-0x{secret[:124]}"
    recipient = Account.create().address
    done = run_console(tmp_path, f"/withdraw {recipient} {note}\n", "--rpc", anvil_stack.url,
                       env_extra=anvil_stack.env())
    assert done.returncode == 0, done.stderr
    assert "swapped" in done.stdout, done.stdout
    (database,) = tmp_path.rglob("chain-*.sqlite3")
    with sqlite3.connect(database) as db:
        audit = db.execute("SELECT command, detail FROM audit_log").fetchall()
    assert [command for command, _ in audit] == ["withdraw"], audit
    replies = [line for line in done.stdout.splitlines() if not line.startswith("> ")]  # not the typed line
    written = "\n".join([*replies, done.stderr, repr(audit)]).lower()
    assert not [secret[i:i + 6] for i in range(119) if secret[i:i + 6] in written], written
    # Nor any file the bot wrote (database, log); longer pieces here, as a database holds much hex of its own.
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        assert not [i for i in range(113) if secret[i:i + 12].encode() in data], path
