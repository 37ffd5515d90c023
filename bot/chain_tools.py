"""`snowrail chain deploy` and `chain dev`: put the contracts on a chain and say how to use them; the console adopts a bare anvil."""

from __future__ import annotations

import asyncio
import os
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
            d = await deploy_stack(node, key, owner=owner or generated[1], executor=executor, dev_tokens=dev,
                                   dev_price_feed=dev and not settings.price_feeds)
            return d, generated
        finally:
            await node.close()

    d, generated = asyncio.run(go())
    print(f"# deployed on chain {d.chain_id} at block {d.block_number}; executor {d.executor}, owner {d.owner}")
    print(f"export SETTLEMENT_CONTRACT_ADDRESS={d.settlement}")
    if d.tokens:
        print("export TOKENS=" + ",".join(f"{s}={a}" for s, a in d.tokens.items()))
    if d.price_feeds:
        print("# a dev price feed: anyone holding the public dev key can move it")
        print(f"export PRICE_FEEDS={d.price_feeds_setting()}")
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


# ---------------------------------------------------------------- the executor allowance
_PERIOD_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3_600, "d": 86_400, "w": 604_800}
PERIOD_FORMS = "a whole number with a unit: 3600s, 90m, 24h, 1d or 1w"
OWNER_KEY_ENV = "OWNER_PRIVATE_KEY"
UINT128_MAX = 2**128 - 1


def parse_period(text: str) -> int:
    """`24h`, `1d`, `3600s`, `90m`, `1w` -> seconds (ConfigError naming the allowed forms)."""
    import re

    m = re.fullmatch(r"\s*(\d{1,12})\s*(s|m|min|h|d|w)\s*", text.lower())
    if not m or int(m.group(1)) == 0:
        shown = text if len(text) <= 20 else text[:20] + "…"
        raise ConfigError(f"PERIOD: “{shown}” is not a period; write {PERIOD_FORMS} (at least one second)")
    return int(m.group(1)) * _PERIOD_UNITS[m.group(2)]


def parse_allowance_amount(text: str, token) -> int:
    """AMOUNT in whole units of the token -> base units; 0 is allowed (the executor may pay none of it)."""
    import re

    from core.errors import UsageError
    from core.money import parse_units

    if re.fullmatch(r"\s*0+(\.0*)?\s*", text):
        return 0
    try:
        units = parse_units(text, token)
    except UsageError as exc:
        raise ConfigError(exc.message.replace("amount:", "AMOUNT:", 1)) from None
    if units > UINT128_MAX:
        raise ConfigError(f"AMOUNT: the contract holds an allowance of at most 2**128-1 base units of {token.symbol}")
    return units


def owner_key_from_env(wanted: bool) -> str:
    """The owner key for --owner-key, from OWNER_KEY_ENV only (never the command line); "" when not wanted."""
    owner_key = os.environ.get(OWNER_KEY_ENV, "").strip() if wanted else ""
    if wanted and not owner_key:
        raise ConfigError(f"--owner-key signs with the key in the {OWNER_KEY_ENV} environment variable, which is "
                          "not set (a key is never passed on the command line)")
    return owner_key


async def show_or_send_owner_tx(node, settings: Settings, chain_id: int, contract: str, data: bytes, owner_key: str) -> None:
    """Print the owner's transaction (to paste into a wallet or a Safe's transaction builder); with an owner key on
    a dev chain, also sign and send it. Refused on chains whose owner key must stay off this host."""
    from adapters.chain import settlement as st
    from adapters.chain.deploy import owner_transaction
    from adapters.chain.rpc import Reverted
    from adapters.chain.tokens import token_registry

    print("# The Settlement's owner signs it (a wallet, or a Safe's transaction builder: custom data):")
    print(f"to:    {contract}")
    print("value: 0")
    print(f"data:  0x{data.hex()}")
    if not owner_key:
        return
    if chain_id in OWNER_REQUIRED:
        raise ConfigError(f"--owner-key is refused on {OWNER_REQUIRED[chain_id]} (chain {chain_id}): the owner "
                          "key stays off this host; sign the transaction above in the owner's wallet or Safe")
    try:
        tx_hash, block = await owner_transaction(node, owner_key, contract, data)
    except Reverted as exc:
        reason = st.revert_sentence(exc.data or b"", token_registry(chain_id, settings.tokens or None))
        raise ConfigError(f"the Settlement refused the transaction: {reason}") from None
    except ValueError:  # eth_account's message could echo part of the key
        raise ConfigError(f"{OWNER_KEY_ENV} is not a valid private key (0x followed by 64 hex digits)") from None
    print(f"# sent with the owner key: {tx_hash} (block {block})")


def allowance(settings: Settings, token_symbol: str, amount_text: str, period_text: str, *, send: bool) -> int:
    """`snowrail chain allowance TOKEN AMOUNT PERIOD`: print the owner's setExecutorAllowance transaction (to
    paste into a wallet or a Safe's transaction builder); with --owner-key, sign and send it with the key in
    OWNER_PRIVATE_KEY, on dev chains only."""
    from adapters.chain import HttpNode
    from adapters.chain import settlement as st
    from adapters.chain.tokens import token_registry
    from core.errors import UsageError
    from core.money import format_units

    settings.require("rpc_url", "settlement_contract_address")
    assert settings.rpc_url and settings.settlement_contract_address
    contract: str = settings.settlement_contract_address
    rpc_url: str = settings.rpc_url
    period = parse_period(period_text)
    owner_key = owner_key_from_env(send)

    async def go() -> None:
        node = HttpNode(rpc_url)
        try:
            chain_id = await node.chain_id()
            if settings.chain_id and chain_id != settings.chain_id:
                raise ConfigError(f"CHAIN_ID is {settings.chain_id} but the node at RPC_URL says {chain_id}")
            try:
                token = token_registry(chain_id, settings.tokens or None).get(token_symbol)
            except UsageError as exc:
                raise ConfigError(exc.message.replace("token:", "TOKEN:", 1)) from None
            units = parse_allowance_amount(amount_text, token)
            address = st.ZERO if token.native else token.address
            if address is None:
                raise ConfigError(f"TOKEN: {token.symbol} has no contract address on chain {chain_id} (set TOKENS)")
            data = st.set_executor_allowance_calldata(address, units, period)
            print(f"# setExecutorAllowance: the executor may pay out at most {format_units(units, token.decimals)} "
                  f"{token.symbol} ({units} base units) per {period} s on chain {chain_id}; a new period starts "
                  "when it is mined.")
            await show_or_send_owner_tx(node, settings, chain_id, contract, data, owner_key)
        finally:
            await node.close()

    asyncio.run(go())
    return 0
