"""A ready privacy pool on a dev chain: deployed, allow-listed by the Settlement's owner, with a funded relayer."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from adapters.chain import settlement as st
from adapters.chain.deploy import owner_transaction
from adapters.chain.fees import offered_fees
from adapters.chain.rpc import Node

from .deploy import MixerDeployment, deploy_mixer
from .prover import WASM, ZKEY, _SCRIPT

SNARKJS = Path(__file__).resolve().parents[2] / "node_modules" / "snarkjs"
GAS_FOR_OWNER = 10**17  # one setMixerPool, with room
GAS_FOR_RELAYER = 10 * 10**18  # hundreds of withdrawals on a dev chain


def missing_prover_parts() -> list[str]:
    """What the prover lacks on this machine (empty when /mix can run): Node.js, snarkjs, the circuit's files."""
    missing = [] if shutil.which("node") else ["Node.js (the `node` command)"]
    if not (SNARKJS / "package.json").exists():
        missing.append("snarkjs (node_modules/snarkjs)")
    missing += [f"circuits/artifacts/{f.name}" for f in (WASM, ZKEY) if not f.exists()]
    if not _SCRIPT.exists():
        missing.append(f"adapters/mixer/{_SCRIPT.name}")
    return missing


@dataclass(frozen=True)
class DevPool:
    deployment: MixerDeployment
    relayer_key: str  # a fresh key made for this pool; it lives as long as the dev chain

    @property
    def setting(self) -> str:
        """The pool as MIXER_CONTRACT_ADDRESS names it."""
        return f"{self.deployment.mixer}@{self.deployment.block_number}"


async def dev_pool(node: Node, funder_key: str, owner_key: str, settlement: str, denomination: int) -> DevPool:
    """Deploys a pool of `denomination` wei from `funder_key` (a funded dev account), gives the owner and a new
    relayer key gas, and lets the treasury deposit into the pool with the owner's setMixerPool."""
    deployment = await deploy_mixer(node, funder_key, denomination)
    relayer_key = "0x" + os.urandom(32).hex()
    owner = Account.from_key(owner_key).address
    await _transfer(node, funder_key, {owner: GAS_FOR_OWNER, Account.from_key(relayer_key).address: GAS_FOR_RELAYER})
    await owner_transaction(node, owner_key, settlement, st.set_mixer_pool_calldata(deployment.mixer))
    return DevPool(deployment, relayer_key)


async def _transfer(node: Node, key: str, amounts: dict[str, int], timeout: float = 60.0) -> None:
    account = Account.from_key(key)
    chain_id, nonce = await node.chain_id(), await node.pending_nonce(account.address)
    max_fee, tip = await offered_fees(node)
    hashes = []
    for i, (to, value) in enumerate(amounts.items()):
        tx = {"type": 2, "chainId": chain_id, "nonce": nonce + i, "to": to, "value": value, "gas": 21_000,
              "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        hashes.append(await node.send_raw(bytes(account.sign_transaction(tx).raw_transaction)))
    end = time.monotonic() + timeout
    for tx_hash in hashes:
        while (receipt := await node.receipt(tx_hash)) is None:
            if time.monotonic() > end:
                raise TimeoutError(f"transfer {tx_hash} was not mined in {timeout:.0f} s")
            await asyncio.sleep(0.05)
        if receipt["status"] != 1:
            raise RuntimeError(f"transfer {tx_hash} failed")
