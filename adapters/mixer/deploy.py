"""Deploying a mixer pool: the Poseidon hasher, the Groth16 verifier and a Mixer of one denomination."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account import Account

from adapters.chain.deploy import create_address
from adapters.chain.fees import offered_fees
from adapters.chain.rpc import Node

from . import artifacts

# One pool per denomination, in CRO (wei = amount * 10**18). The seed's pool is 0.1.
DENOMINATIONS = ("0.1", "1", "10", "100")
GAS_HASHER, GAS_VERIFIER, GAS_MIXER = 3_000_000, 2_000_000, 2_500_000


@dataclass(frozen=True)
class MixerDeployment:
    chain_id: int
    mixer: str
    hasher: str
    verifier: str
    denomination: int  # wei
    block_number: int  # the block the mixer was created in: event sync starts there


async def deploy_mixer(node: Node, deployer_key: str, denomination: int, *, hasher: str | None = None,
                       verifier: str | None = None, timeout: float = 120.0) -> MixerDeployment:
    """Deploys a pool (and the hasher and verifier unless given: pools of several denominations share them)."""
    account = Account.from_key(deployer_key)
    chain_id = await node.chain_id()
    nonce = await node.pending_nonce(account.address)
    max_fee, tip = await offered_fees(node)
    hashes: list[str] = []

    async def create(code: bytes, gas: int) -> str:
        nonlocal nonce
        tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "value": 0, "data": code, "gas": gas,
              "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
        hashes.append(await node.send_raw(bytes(account.sign_transaction(tx).raw_transaction)))
        address = create_address(account.address, nonce)
        nonce += 1
        return address

    if hasher is None:
        hasher = await create(artifacts.load("PoseidonT3").bytecode, GAS_HASHER)
    if verifier is None:
        verifier = await create(artifacts.load("Groth16Verifier").bytecode, GAS_VERIFIER)
    mixer = await create(
        artifacts.load("Mixer").bytecode + abi_encode(["address", "address", "uint256"], [hasher, verifier, denomination]),
        GAS_MIXER,
    )
    block = 0
    end = time.monotonic() + timeout
    for tx_hash in hashes:
        while (receipt := await node.receipt(tx_hash)) is None:
            if time.monotonic() > end:
                raise TimeoutError(f"deployment transaction {tx_hash} was not mined in {timeout:.0f} s")
            await asyncio.sleep(0.05)
        if receipt["status"] != 1:
            raise RuntimeError(f"deployment transaction {tx_hash} failed")
        block = max(block, receipt["block_number"])
    return MixerDeployment(chain_id, mixer, hasher, verifier, denomination, block)


async def deploy_pools(node: Node, deployer_key: str, amounts: list[str] | tuple[str, ...] = DENOMINATIONS,
                       decimals: int = 18) -> list[MixerDeployment]:
    """One pool per amount (whole units of the native coin), sharing one hasher and one verifier."""
    from core.money import Token, parse_units

    native = Token("CRO", decimals, native=True)
    out: list[MixerDeployment] = []
    for amount in amounts:
        hasher, verifier = (out[0].hasher, out[0].verifier) if out else (None, None)
        out.append(await deploy_mixer(node, deployer_key, parse_units(amount, native), hasher=hasher, verifier=verifier))
    return out

