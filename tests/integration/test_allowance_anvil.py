"""[CONTROLS] The executor allowance end to end on anvil (with PostgreSQL): `snowrail chain allowance` prints the
owner's transaction and, with the owner key on a dev chain, sends it; the bot then refuses beyond the allowance
before signing (the executor's nonce does not move) and says when it refills; /wallet shows it; the Cronos chains
refuse --owner-key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account

from adapters.chain import settlement as st
from adapters.chain.deploy import deploy_stack
from adapters.chain.devnet import start_anvil
from adapters.chain.rpc import HttpNode
from bot.bootstrap import build
from tests.fixtures.anvil import AnvilStack
from tests.integration.test_pay_live import balance, fresh_address, rpc, say, settings_for

pytestmark = [pytest.mark.anvil, pytest.mark.postgres]

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))


@pytest.fixture
def db(new_postgres_database):
    return new_postgres_database()


@pytest.fixture
async def stack(anvil):
    """A Settlement of its own (the session's shared one must stay uncapped): owner dev account 7, a fresh
    executor key with gas."""
    executor_key = "0x" + bytes(Account.create().key).hex()
    node = HttpNode(anvil.url)
    try:
        d = await deploy_stack(node, anvil.keys[7], executor=Account.from_key(executor_key).address,
                               dev_tokens=True, treasury_native=100 * 10**18, fund_executor=10**19)
    finally:
        await node.close()
    return AnvilStack(anvil, d, anvil.keys[7], executor_key)


def snowrail(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}
    done = subprocess.run([SNOWRAIL, "chain", "allowance", *args], cwd=tmp_path, env=full, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def printed(stdout: str, field: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in stdout.splitlines() if line.startswith(f"{field}:"))


def nonce(url: str, address: str) -> int:
    return int(rpc(url, "eth_getTransactionCount", [address, "pending"]), 16)


async def test_cli_prints_the_owners_transaction_and_sends_it_with_the_owner_key(stack, tmp_path):
    env = {k: v for k, v in stack.env().items() if k != "PRIVATE_KEY"}
    done = snowrail(tmp_path, env, "USDC", "10000", "24h")
    assert done.returncode == 0, done.stderr
    assert printed(done.stdout, "to") == stack.deployment.settlement and printed(done.stdout, "value") == "0"
    data = bytes.fromhex(printed(done.stdout, "data").removeprefix("0x"))
    assert data[:4] == st.selector("setExecutorAllowance(address,uint256,uint256)")
    token, amount, period = abi_decode(["address", "uint256", "uint256"], data[4:])
    assert (token.lower(), amount, period) == (stack.deployment.tokens["USDC"].lower(), 10_000 * 10**6, 86_400)
    assert "sent" not in done.stdout  # printing alone sends nothing
    node = HttpNode(stack.url)
    try:
        assert st.decode_executor_allowance(await node.call(
            {"to": stack.deployment.settlement, "data": st.executor_allowance_calldata(token)}))[1] == 0
    finally:
        await node.close()

    bad = snowrail(tmp_path, env, "USDC", "10000", "tomorrow")
    assert bad.returncode == 2 and "3600s, 90m, 24h, 1d or 1w" in bad.stderr
    no_key = snowrail(tmp_path, env, "CRO", "2", "1d", "--owner-key")
    assert no_key.returncode == 2 and "OWNER_PRIVATE_KEY" in no_key.stderr
    not_owner = snowrail(tmp_path, {**env, "OWNER_PRIVATE_KEY": stack.executor_key}, "CRO", "2", "1d", "--owner-key")
    assert not_owner.returncode == 2 and "only the contract owner may do this" in not_owner.stderr
    assert stack.executor_key not in not_owner.stderr + not_owner.stdout

    sent = snowrail(tmp_path, {**env, "OWNER_PRIVATE_KEY": stack.owner_key}, "CRO", "2", "1d", "--owner-key")
    assert sent.returncode == 0, sent.stderr
    assert "# sent with the owner key: 0x" in sent.stdout and stack.owner_key not in sent.stdout
    node = HttpNode(stack.url)
    try:
        amount, period, spent, _ = st.decode_executor_allowance(await node.call(
            {"to": stack.deployment.settlement, "data": st.executor_allowance_calldata(st.ZERO)}))
    finally:
        await node.close()
    assert (amount, period, spent) == (2 * 10**18, 86_400, 0)


async def test_the_bot_refuses_beyond_the_allowance_before_signing_and_wallet_shows_it(stack, db, tmp_path):
    env = {k: v for k, v in stack.env().items() if k != "PRIVATE_KEY"}
    sent = snowrail(tmp_path, {**env, "OWNER_PRIVATE_KEY": stack.owner_key}, "CRO", "1", "1d", "--owner-key")
    assert sent.returncode == 0, sent.stderr
    app = await build(settings_for(stack.url, stack, db, tmp_path))
    try:
        executor = app.engine.services.chain.executor
        to = fresh_address()
        ok = await say(app, f"/pay {to} 0.75 CRO")
        assert ok.kind == "ok", ok.plain()
        before = nonce(stack.url, executor)
        refused = await say(app, f"/pay {to} 0.5 CRO")
        text = refused.plain()
        assert refused.kind == "error", text
        assert "0.25 CRO is left" in text and "needs 0.5 CRO" in text and "It refills at 20" in text
        assert nonce(stack.url, executor) == before  # nothing signed, nothing sent
        assert balance(stack.url, to) == 75 * 10**16
        wallet = (await say(app, "/wallet")).plain()
        assert "CRO: 0.25 left of 1 CRO per 24 h, refills" in wallet
        assert "USDC: no on-chain cap" in wallet
    finally:
        await app.close()


def test_owner_key_is_refused_on_cronos_chains(tmp_path):
    node = start_anvil(chain_id=338)
    try:
        env = {"RPC_URL": node.url, "SETTLEMENT_CONTRACT_ADDRESS": "0x" + "11" * 20,
               "OWNER_PRIVATE_KEY": "0x" + "22" * 32}
        done = snowrail(tmp_path, env, "CRO", "5", "3600s", "--owner-key")
        assert done.returncode == 2 and "--owner-key is refused on Cronos testnet (chain 338)" in done.stderr
        assert "data:  0x" in done.stdout  # the transaction to sign elsewhere is still printed
        assert "22" * 32 not in done.stdout + done.stderr
    finally:
        node.stop()
