"""`snowrail chain deploy` and `chain dev`: put the contracts on a chain and say how to use them; the console adopts a bare anvil."""

from __future__ import annotations

import asyncio
import signal
import sys

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
    from adapters.chain.devnet import anvil_dev

    anvil, _ = anvil_dev(port=port)
    print("# anvil keeps running until you press Ctrl-C", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        anvil.stop()
    return 0


LOCAL_DEV_CHAIN_IDS = (31337, 1337)  # anvil and hardhat: chains whose dev keys are public


async def adopt_local_dev_stack(settings: Settings) -> None:
    """`snowrail console --rpc http://127.0.0.1:8545` on a bare anvil (what `chain dev` starts): use its public
    dev key and deploy the stack once, remembering it per chain (genesis hash) under DATA_DIR. Only when the
    private key or the contract is not set, and never on any other chain: settings.require then names what
    is missing. Dev tooling: the console calls it before it builds the app."""
    if not settings.rpc_url or (settings.private_key and settings.settlement_contract_address):
        return
    import json

    from adapters.chain import HttpNode
    from adapters.chain.devnet import ANVIL_DEV_KEY, deploy_dev_stack

    assert settings.rpc_url
    node = HttpNode(settings.rpc_url)
    try:
        chain_id = await node.chain_id()
        if chain_id not in LOCAL_DEV_CHAIN_IDS:
            return  # settings.require names what is missing
        genesis = (await node.request("eth_getBlockByNumber", ["0x0", False]))["hash"]
        memo = settings.data_dir / "local-dev-stacks.json"
        known = json.loads(memo.read_text()) if memo.exists() else {}
        entry = known.get(genesis)
        if entry and settings.settlement_contract_address in (None, entry["settlement"]):
            code = await node.request("eth_getCode", [entry["settlement"], "latest"])
            entry = entry if code not in ("0x", "0x0", None) else None
        else:
            entry = None
        if settings.settlement_contract_address is None and entry is None:
            dep = await deploy_dev_stack(settings.rpc_url)
            if dep.owner_key:  # the owner is a key of its own (never the bot's): shown once, stored nowhere
                print(f"Deployed SnowRail on this local chain; its owner key, shown once (keep it to sweep or "
                      f"allow-list pools): {dep.owner_key}", file=sys.stderr)
            entry = {"settlement": dep.settlement, "tokens": ",".join(f"{k}={v}" for k, v in dep.tokens.items())}
            known[genesis] = entry
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            memo.write_text(json.dumps(known, indent=1))
        if entry:
            settings.settlement_contract_address = settings.settlement_contract_address or entry["settlement"]
            settings.tokens = settings.tokens or entry["tokens"]
        if settings.private_key is None:
            from pydantic import SecretStr

            settings.private_key = SecretStr(ANVIL_DEV_KEY)
    finally:
        await node.close()
