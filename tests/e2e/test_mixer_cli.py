"""`snowrail mixer deploy|allow|status` as processes against anvil: the mixer set up with no `cast`, no `python -m`."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from adapters.chain import settlement as st
from adapters.chain.rpc import HttpNode

from .test_chain_deploy_cli import funded_key

pytestmark = pytest.mark.anvil

SNOWRAIL = str(Path(sys.executable).with_name("snowrail"))


def mixer(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([SNOWRAIL, "mixer", *args], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env})
    assert "Traceback" not in done.stderr, done.stderr
    return done


async def allowed(url: str, settlement: str, pool: str) -> bool:
    node = HttpNode(url)
    try:
        return bool(int.from_bytes(await node.call({"to": settlement, "data": st.mixer_pools_calldata(pool)}), "big"))
    finally:
        await node.close()


def test_deploy_allow_and_status_without_outside_tools(tmp_path, anvil_stack):
    url, settlement = anvil_stack.url, anvil_stack.deployment.settlement
    deployer = asyncio.run(funded_key(anvil_stack.anvil))
    env = {"RPC_URL": url, "MIXER_DEPLOYER_KEY": deployer, "SETTLEMENT_CONTRACT_ADDRESS": settlement}
    deployed = mixer(tmp_path, env, "deploy", "--pools", "0.1,1")
    assert deployed.returncode == 0, deployed.stderr
    line = re.search(r"^export MIXER_CONTRACT_ADDRESS=(\S+)$", deployed.stdout, re.M)
    assert line, deployed.stdout
    pools = [p.split("@")[0] for p in line.group(1).split(",")]
    assert len(pools) == 2 and deployer.lower()[2:10] not in deployed.stdout.lower()  # the key is never printed
    assert f"snowrail mixer allow {pools[0]} {pools[1]}" in deployed.stdout

    # Without the owner key: the transaction to sign elsewhere, and nothing changes on chain.
    printed = mixer(tmp_path, env, "allow", pools[0])
    assert printed.returncode == 0, printed.stderr
    assert f"to:    {settlement}" in printed.stdout
    assert f"data:  0x{st.set_mixer_pool_calldata(pools[0]).hex()}" in printed.stdout
    assert not asyncio.run(allowed(url, settlement, pools[0]))

    status_env = env | {"MIXER_CONTRACT_ADDRESS": line.group(1), "MIXER_RELAYER_KEY": anvil_stack.anvil.keys[6]}
    before = mixer(tmp_path, status_env, "status")
    assert before.returncode == 1, before.stdout  # a pool the treasury may not deposit into blocks operators' /mix
    assert f"may NOT deposit (snowrail mixer allow {pools[0]})" in before.stdout

    sent = mixer(tmp_path, env | {"OWNER_PRIVATE_KEY": anvil_stack.owner_key}, "allow", *pools, "--owner-key")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.count("# sent with the owner key: 0x") == 2
    assert asyncio.run(allowed(url, settlement, pools[0])) and asyncio.run(allowed(url, settlement, pools[1]))

    after = mixer(tmp_path, status_env, "status")
    assert after.returncode == 0, after.stdout + after.stderr
    assert re.search(rf"✓ 0\.1 CRO pool {pools[0]}: 0 deposit\(s\), 0 withdrawal\(s\), anonymity set 0, "
                     r"holds 0 CRO; treasury may deposit", after.stdout), after.stdout
    relayer = Account.from_key(anvil_stack.anvil.keys[6]).address
    assert re.search(rf"✓ relayer {relayer}: [\d.]+ CRO of gas, about \d+ withdrawal", after.stdout), after.stdout


def test_wrong_input_is_named_and_changes_nothing(tmp_path, anvil_stack):
    url, settlement = anvil_stack.url, anvil_stack.deployment.settlement
    env = {"RPC_URL": url, "SETTLEMENT_CONTRACT_ADDRESS": settlement}
    no_key = mixer(tmp_path, env, "deploy")
    assert no_key.returncode == 2 and "MIXER_DEPLOYER_KEY or PRIVATE_KEY" in no_key.stderr
    bad_pools = mixer(tmp_path, env | {"MIXER_DEPLOYER_KEY": anvil_stack.anvil.keys[7]}, "deploy", "--pools", "0.1,x")
    assert bad_pools.returncode == 2 and "--pools" in bad_pools.stderr, bad_pools.stderr
    nobody = Account.create().address
    empty = mixer(tmp_path, env, "allow", nobody)
    assert empty.returncode == 2 and f"POOL: {nobody} has no contract" in empty.stderr
    not_address = mixer(tmp_path, env, "allow", "0x1234")
    assert not_address.returncode == 2 and "POOL" in not_address.stderr
    no_owner = mixer(tmp_path, env, "allow", settlement, "--owner-key")
    assert no_owner.returncode == 2 and "OWNER_PRIVATE_KEY" in no_owner.stderr
    unknown = mixer(tmp_path, env, "frobnicate")
    assert unknown.returncode == 2 and "usage: snowrail mixer" in unknown.stderr
    no_rpc = mixer(tmp_path, {}, "status")
    assert no_rpc.returncode == 2 and "RPC_URL" in no_rpc.stderr
