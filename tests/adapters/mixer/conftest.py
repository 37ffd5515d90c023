"""Fixtures for the mixer: a 0.1 CRO pool on the session's anvil, its relayer and a persistent prover."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account

from adapters.chain.rpc import HttpNode
from adapters.mixer.deploy import MixerDeployment, deploy_mixer
from adapters.mixer.pool import MixerPool
from adapters.mixer.prover import Prover
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
    stack = MixerStack(node, deployment, None, None, anvil.chain_id)  # type: ignore[arg-type]
    stack.relayer, stack.depositor = stack.pool_for(relayer), stack.pool_for(depositor)
    yield stack
    await node.close()


@pytest.fixture(scope="session")
async def prover():
    p = Prover()
    await p.start()
    yield p
    await p.close()


def fresh_address() -> str:
    return Account.create().address
