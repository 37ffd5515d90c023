"""Fixtures for the mixer: a 0.1 CRO pool on the session's anvil, its relayer and a persistent prover."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account

from adapters.chain.rpc import HttpNode
from adapters.mixer.deploy import MixerDeployment, deploy_mixer
from adapters.mixer.pool import MixerPool
from adapters.mixer.prover import Prover
from tests.adapters.chain.ops import Actor
from tests.fixtures.anvil import *  # noqa: F401,F403  (the `anvil` session fixture)

DENOMINATION = 10**17  # 0.1 CRO


@dataclass
class MixerStack:
    node: HttpNode
    deployment: MixerDeployment
    relayer: MixerPool  # the bot's relayer account
    depositor: MixerPool  # a user's wallet, depositing
    chain_id: int

    def pool_for(self, key: str) -> MixerPool:
        return MixerPool(self.node, self.deployment.mixer, key, chain_id=self.chain_id,
                         deployed_block=self.deployment.block_number)


@pytest.fixture(scope="session")
async def mixer_stack(anvil):
    # Dev accounts 7-9 are the mixer's own, so other suites' nonces on the same node are untouched.
    deployer, relayer, depositor = anvil.keys[7], anvil.keys[8], anvil.keys[9]
    node = HttpNode(anvil.url)
    deployment = await deploy_mixer(node, deployer, DENOMINATION)
    stack = MixerStack(node, deployment, None, None, anvil.chain_id)  # type: ignore[arg-type]  # pools set below
    stack.relayer, stack.depositor = stack.pool_for(relayer), stack.pool_for(depositor)
    yield stack
    await node.close()


@pytest.fixture(scope="session")
async def treasury(anvil_stack, mixer_stack):
    """The anvil stack's Settlement as the engine's chain (executor key), with the mixer's pool allow-listed:
    an operator's /mix deposits from this treasury. `treasury.allow(pool)` allow-lists another pool."""
    from adapters.chain import connect
    from adapters.chain import settlement as st

    d = anvil_stack.deployment
    tokens = ",".join(f"{k}={v}" for k, v in d.tokens.items())
    chain = await connect(anvil_stack.url, anvil_stack.executor_key, d.settlement, tokens=tokens)
    owner = Actor(mixer_stack.node, anvil_stack.owner_key, d.chain_id)

    async def allow(pool: str) -> None:
        assert (await owner.send(d.settlement, st.set_mixer_pool_calldata(pool), gas=100_000))["status"] == 1

    chain.allow = allow  # type: ignore[attr-defined]  # a test-only helper, carried by the fixture's chain
    await allow(mixer_stack.deployment.mixer)
    yield chain
    await chain.close()


@pytest.fixture(scope="session")
async def prover():
    p = Prover()
    await p.start()
    yield p
    await p.close()


def fresh_address() -> str:
    return Account.create().address
