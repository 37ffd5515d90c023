"""`snowrail chain deploy` and `snowrail chain dev`: put the contracts on a chain and say how to use them."""

from __future__ import annotations

import asyncio
import signal

from bot.settings import ConfigError, Settings


def deploy(settings: Settings) -> int:
    from eth_account import Account

    from adapters.chain import HttpNode, deploy_stack

    settings.require("rpc_url", "private_key")
    assert settings.rpc_url and settings.private_key
    key = settings.private_key.get_secret_value()

    async def go():
        node = HttpNode(settings.rpc_url)
        try:
            chain_id = await node.chain_id()
            if settings.chain_id and chain_id != settings.chain_id:
                raise ConfigError(f"CHAIN_ID is {settings.chain_id} but the node at RPC_URL says {chain_id}")
            dev = chain_id not in (25, 338)
            return await deploy_stack(node, key, executor=Account.from_key(key).address, dev_tokens=dev)
        finally:
            await node.close()

    d = asyncio.run(go())
    print(f"# deployed on chain {d.chain_id} at block {d.block}; executor {d.executor}, owner {d.owner}")
    print(f"export SETTLEMENT_CONTRACT_ADDRESS={d.settlement}")
    if d.tokens:
        print("export TOKENS=" + ",".join(f"{s}={a}" for s, a in d.tokens.items()))
    print("# fund the treasury by sending CRO or tokens to the settlement address")
    return 0


def dev(settings: Settings, *, port: int) -> int:
    from adapters.chain.deploy import anvil_dev

    anvil, _ = anvil_dev(port=port)
    print("# anvil keeps running until you press Ctrl-C", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        anvil.stop()
    return 0
