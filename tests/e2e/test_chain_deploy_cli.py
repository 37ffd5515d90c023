"""`snowrail chain deploy` as a process against anvil: it prints the address it deployed (it used to crash on
`d.block` first), the Settlement's owner is `--owner` from the constructor on, and Cronos chains refuse to
deploy without one."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from adapters.chain.devnet import start_anvil
from adapters.chain.rpc import HttpNode
from tests.adapters.chain.ops import Actor, read_address

pytestmark = pytest.mark.anvil

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))


def deploy(tmp_path: Path, url: str, key: str, *flags: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RPC_URL": url, "PRIVATE_KEY": key}
    done = subprocess.run([SNOWRAIL, "chain", "deploy", *flags], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def funded_key(anvil) -> str:
    """A fresh executor key with gas, so this test's deployments share no nonce with other tests."""
    key = "0x" + bytes(Account.create().key).hex()
    node = HttpNode(anvil.url)
    try:
        r = await Actor(node, anvil.keys[4], anvil.chain_id).send(Account.from_key(key).address, value=10**20,
                                                                 gas=21_000)
        assert r["status"] == 1
    finally:
        await node.close()
    return key


async def on_chain(url: str, settlement: str) -> dict:
    node = HttpNode(url)
    try:
        return {
            "code": await node.code(settlement),
            "owner": await read_address(node, settlement, "owner()"),
            "pending": await read_address(node, settlement, "pendingOwner()"),
            "executor": await read_address(node, settlement, "executor()"),
        }
    finally:
        await node.close()


def exported(stdout: str, name: str) -> str:
    match = re.search(rf"^export {name}=(\S+)$", stdout, re.M)
    assert match, stdout
    return match.group(1)


async def test_deploy_prints_the_address_and_the_owner_is_the_given_one(anvil, tmp_path):
    key = await funded_key(anvil)
    owner = Account.create().address
    done = deploy(tmp_path, anvil.url, key, "--owner", owner.lower())
    assert done.returncode == 0, done.stderr
    settlement = exported(done.stdout, "SETTLEMENT_CONTRACT_ADDRESS")
    state = await on_chain(anvil.url, settlement)
    assert state["code"] and state["owner"] == owner and state["pending"] == "0x" + "00" * 20
    assert state["executor"] == Account.from_key(key).address
    assert f"owner {owner}" in done.stdout and re.search(r"at block \d+;", done.stdout)
    assert "owner key" not in done.stdout and key[2:] not in done.stdout + done.stderr


async def test_deploy_on_a_dev_chain_without_owner_prints_a_generated_owner_key_once(anvil, tmp_path):
    key = await funded_key(anvil)
    done = deploy(tmp_path, anvil.url, key)
    assert done.returncode == 0, done.stderr
    [owner_key] = re.findall(r"owner key: (0x[0-9a-f]{64})", done.stdout)
    assert done.stdout.count(owner_key) == 1 and owner_key not in done.stderr
    assert "shown only this once" in done.stdout
    state = await on_chain(anvil.url, exported(done.stdout, "SETTLEMENT_CONTRACT_ADDRESS"))
    assert state["owner"] == Account.from_key(owner_key).address != state["executor"]


async def test_deploy_refuses_bad_owners(anvil, tmp_path):
    key = await funded_key(anvil)
    same = deploy(tmp_path, anvil.url, key, "--owner", Account.from_key(key).address)
    assert same.returncode == 2 and "--owner" in same.stderr and "executor" in same.stderr
    typo = deploy(tmp_path, anvil.url, key, "--owner", "0x1234")
    assert typo.returncode == 2 and "--owner" in typo.stderr and "40" in typo.stderr
    node = HttpNode(anvil.url)
    try:
        assert await node.pending_nonce(Account.from_key(key).address) == 0  # nothing was sent
    finally:
        await node.close()


@pytest.mark.parametrize("chain_id, name", [(338, "Cronos testnet"), (25, "Cronos")])
def test_deploy_on_cronos_requires_owner(tmp_path, chain_id, name):
    node = start_anvil(chain_id=chain_id)
    try:
        key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # anvil's funded dev key
        done = deploy(tmp_path, node.url, key)
        assert done.returncode == 2 and done.stdout == ""
        assert f"--owner ADDRESS is required on {name} (chain {chain_id})" in done.stderr

        async def nonce() -> int:
            http = HttpNode(node.url)
            try:
                return await http.pending_nonce(Account.from_key(key).address)
            finally:
                await http.close()

        assert asyncio.run(nonce()) == 0
    finally:
        node.stop()
