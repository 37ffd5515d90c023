"""/pay through the real stack: PostgreSQL, anvil, Redis and RQ, with crashes, outages and two processes."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.chain.devnet import deploy_dev_stack, start_anvil
from adapters.db import create_engine_for, make_uow_factory
from bot.bootstrap import build
from bot.settings import Settings
from core.commands import Actor
from core.model import IntentStatus

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

OP = Actor("console", "op", "Operator")
SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))


def rpc(url: str, method: str, params: list):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["result"]


def balance(url: str, address: str) -> int:
    return int(rpc(url, "eth_getBalance", [address, "latest"]), 16)


def fresh_address() -> str:
    return "0x" + secrets.token_hex(20)


def env_for(url: str, stack, db_url: str, **extra) -> dict[str, str]:
    return {**stack.env(), "RPC_URL": url, "DATABASE_URL": db_url, "OPERATORS": OP.ref, **extra}


def settings_for(url, stack, db_url, tmp_path, **extra) -> Settings:
    env = env_for(url, stack, db_url, **extra)
    return Settings(_env_file=None, data_dir=tmp_path, **{k.lower(): v for k, v in env.items()})


@pytest.fixture
def db(new_postgres_database):
    return new_postgres_database()


async def say(app, text, key=None):
    return await app.engine.handle_text(text, actor=OP, key=key or "t-" + secrets.token_hex(6))


async def test_pay_settles_on_chain_once_even_when_redelivered(anvil_stack, db, tmp_path):
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path))
    try:
        to = fresh_address()
        reply = await say(app, f"/pay {to} 0.3 CRO", key="tg-1-1")
        assert reply.kind == "ok", reply.plain()
        again = await say(app, f"/pay {to} 0.3 CRO", key="tg-1-1")
        assert "Already handled" in again.plain()
        assert balance(anvil_stack.url, to) == 3 * 10**17
        usdc = await say(app, f"/pay {to} 12.5 USDC")
        assert usdc.kind == "ok", usdc.plain()
        assert await app.chain.balance(to, app.chain.tokens.get("USDC")) == 12_500_000
        async with app.uow() as uow:
            intents = await uow.intents.for_actor(OP.ref, 10)
            outbox = await uow.outbox.pending()
        assert {i.status for i in intents} == {IntentStatus.CONFIRMED} and len(intents) == 2
        assert sorted(n.type.value for n in outbox) == ["payment_sent", "payment_sent"]
    finally:
        await app.close()


class CrashOnBroadcast:
    """The real chain, except that the process 'dies' right after the signed transaction is stored."""

    def __init__(self, chain):
        self._chain = chain

    def __getattr__(self, name):
        return getattr(self._chain, name)

    async def broadcast(self, raw):
        raise KeyboardInterrupt("killed between commit and broadcast")


async def test_a_crash_between_persist_and_broadcast_is_recovered_exactly_once(anvil_stack, db, tmp_path):
    settings = settings_for(anvil_stack.url, anvil_stack, db, tmp_path)
    app = await build(settings)
    to = fresh_address()
    try:
        app.engine.services.chain = CrashOnBroadcast(app.chain)
        with pytest.raises(KeyboardInterrupt):
            await say(app, f"/pay {to} 0.7")
    finally:
        await app.close()
    assert balance(anvil_stack.url, to) == 0
    restarted = await build(settings)
    try:
        async with restarted.uow() as uow:
            (intent,) = await uow.intents.with_status(IntentStatus.SUBMITTED)
        assert intent.raw_tx and intent.tx_hash
        for _ in range(3):
            await restarted.engine.reconcile()
            await asyncio.sleep(0.05)
        async with restarted.uow() as uow:
            done = await uow.intents.get(intent.id)
        assert done.status is IntentStatus.CONFIRMED and done.tx_hash == intent.tx_hash
        assert balance(anvil_stack.url, to) == 7 * 10**17
        # A redelivery of the lost message after recovery is answered, not paid again.
        assert "Already handled" in (await say(restarted, f"/pay {to} 0.7", key=intent.key)).plain()
        assert balance(anvil_stack.url, to) == 7 * 10**17
    finally:
        await restarted.close()


def test_two_processes_share_the_executor_without_reusing_a_nonce(anvil_stack, db, tmp_path):
    recipients = [fresh_address() for _ in range(8)]
    env = {**os.environ, **env_for(anvil_stack.url, anvil_stack, db), "HOME": str(tmp_path)}
    procs = []
    for half in (recipients[:4], recipients[4:]):
        script = "".join(f"/pay {r} 0.01\n" for r in half)
        p = subprocess.Popen([SNOWRAIL, "console"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=tmp_path, env=env)
        procs.append((p, script))
    outs = [p.communicate(script, timeout=120) for p, script in procs]
    for (p, _), (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.count("✅ confirmed") >= 4, out
    assert [balance(anvil_stack.url, r) for r in recipients] == [10**16] * 8

    async def nonces():
        engine = create_engine_for(db)
        try:
            async with engine.connect() as c:
                rows = await c.execute(text("SELECT nonce FROM intents WHERE status = 'confirmed'"))
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    used = asyncio.run(nonces())
    assert len(used) == 8 and len(set(used)) == 8


async def test_node_down_leaves_a_pending_payment_that_can_be_cancelled(db, tmp_path):
    anvil = start_anvil()
    try:
        stack_dep = await deploy_dev_stack(anvil.url)
        settings = Settings(
            _env_file=None, data_dir=tmp_path, database_url=db, rpc_url=anvil.url,
            private_key="0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
            settlement_contract_address=stack_dep.settlement, operators=OP.ref,
            tokens=",".join(f"{s}={a}" for s, a in stack_dep.tokens.items()),
        )
        app = await build(settings)
    finally:
        anvil.stop()
    try:
        reply = await say(app, f"/pay {fresh_address()} 1")
        assert "not answering" in reply.plain() and "/confirm pay-" in reply.plain()
        assert "unavailable" in (await say(app, "/wallet")).plain()
        async with app.uow() as uow:
            (intent,) = await uow.intents.with_status(IntentStatus.PENDING)
        assert "Cancelled" in (await say(app, f"/cancel {intent.id}")).plain()
    finally:
        await app.close()


async def test_database_down_gets_a_clear_reply(anvil_stack, db, tmp_path):
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path))
    dead = create_engine_for("postgresql://snowrail:hunter2@127.0.0.1:1/nowhere")
    try:
        app.engine.services.uow = make_uow_factory(dead)
        reply = await say(app, f"/pay {fresh_address()} 1")
        assert "database is not answering" in reply.plain() and "hunter2" not in reply.plain()
    finally:
        await dead.dispose()
        await app.close()


@pytest.mark.redis
async def test_an_rq_worker_delivers_the_notification(anvil_stack, db, tmp_path):
    redis_url = "redis://127.0.0.1:6379/7"
    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    app = await build(settings_for(anvil_stack.url, anvil_stack, db, tmp_path, REDIS_URL=redis_url))
    try:
        reply = await say(app, f"/pay {fresh_address()} 0.02")
        assert reply.kind == "ok", reply.plain()
    finally:
        await app.close()
    assert Redis.from_url(redis_url).llen("rq:queue:snowrail") == 1
    env = {**os.environ, **env_for(anvil_stack.url, anvil_stack, db, REDIS_URL=redis_url), "HOME": str(tmp_path)}
    worker = await asyncio.to_thread(
        subprocess.run, [SNOWRAIL, "run", "worker", "--burst"], capture_output=True, text=True, cwd=tmp_path,
        env=env, timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    assert "🔔" in worker.stdout and "confirmed: 0.02 CRO" in worker.stdout, worker.stdout + worker.stderr
    async with app.uow() as uow:
        assert await uow.outbox.pending() == []
