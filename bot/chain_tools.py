"""`snowrail chain deploy` and `snowrail chain dev`: put the contracts on a chain and say how to use them."""

from __future__ import annotations

import asyncio
import signal

from bot.settings import ConfigError, Settings

# Chains where the owner must be given: real money. Everything else is treated as a dev chain.
OWNER_REQUIRED = {25: "Cronos", 338: "Cronos testnet"}


def deploy(settings: Settings, *, owner: str | None = None) -> int:
    """Deploy Settlement(owner, executor) from PRIVATE_KEY, which becomes the executor. `owner` (--owner) is
    required on Cronos and its testnet; on a dev chain a separate owner key is generated and printed once."""
    from eth_account import Account

    from adapters.chain import HttpNode, deploy_stack
    from adapters.chain.deploy import new_key
    from core.addresses import parse_address
    from core.errors import UsageError

    settings.require("rpc_url", "private_key")
    assert settings.rpc_url and settings.private_key
    key = settings.private_key.get_secret_value()
    try:
        executor = Account.from_key(key).address
    except Exception:  # the library's message could echo part of the key
        raise ConfigError("PRIVATE_KEY is not a valid private key (0x followed by 64 hex digits)") from None
    if owner is not None:
        try:
            owner = parse_address(owner, field="--owner")
        except UsageError as exc:
            raise ConfigError(exc.message) from None
        if owner == executor:
            raise ConfigError(
                f"--owner {owner} is the address of PRIVATE_KEY, which becomes the executor: the owner can sweep "
                "the treasury and replace the executor, so give the address of a different key (a hardware "
                "wallet or a multisig), kept off the bot's hosts"
            )

    async def go():
        node = HttpNode(settings.rpc_url)
        try:
            chain_id = await node.chain_id()
            if settings.chain_id and chain_id != settings.chain_id:
                raise ConfigError(f"CHAIN_ID is {settings.chain_id} but the node at RPC_URL says {chain_id}")
            if owner is None and chain_id in OWNER_REQUIRED:
                raise ConfigError(
                    f"--owner ADDRESS is required on {OWNER_REQUIRED[chain_id]} (chain {chain_id}): the owner can "
                    "sweep the treasury and replace the executor, so give the address of a key kept off the "
                    "bot's hosts (a hardware wallet or a multisig); PRIVATE_KEY only becomes the executor"
                )
            generated = None if owner is not None else new_key()
            dev = chain_id not in OWNER_REQUIRED
            d = await deploy_stack(node, key, owner=owner or generated[1], executor=executor, dev_tokens=dev)
            return d, generated
        finally:
            await node.close()

    d, generated = asyncio.run(go())
    print(f"# deployed on chain {d.chain_id} at block {d.block_number}; executor {d.executor}, owner {d.owner}")
    print(f"export SETTLEMENT_CONTRACT_ADDRESS={d.settlement}")
    if d.tokens:
        print("export TOKENS=" + ",".join(f"{s}={a}" for s, a in d.tokens.items()))
    print("# fund the treasury by sending CRO or tokens to the settlement address")
    if generated is not None:
        # Printed, never logged: this is the only copy of the key.
        print("# WARNING: the owner key below was generated for this dev chain and is shown only this once.")
        print("# Store it now if you will sweep, rotate the executor or allow-list a mixer pool here;")
        print("# never give it to the bot (PRIVATE_KEY stays the executor's key):")
        print(f"#   owner key: {generated[0]}")
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
