"""`snowrail mixer deploy|allow|status`: put the privacy pools on a chain, allow-list them, and see their state."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.chain_tools import OWNER_KEY_ENV, owner_key_from_env, show_or_send_owner_tx
from bot.settings import ConfigError, Settings
from bot.subcommands import parse_action

USAGE = ("usage: snowrail mixer deploy [--pools 0.1,1,10,100] | snowrail mixer allow POOL [POOL ...] [--owner-key] "
         "| snowrail mixer status")
DEPLOYER_KEY_ENV = "MIXER_DEPLOYER_KEY"


def main(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="snowrail mixer", description="The privacy mixer's pools.")
    sub = parser.add_subparsers(dest="action", metavar="action")
    d = sub.add_parser("deploy", help="deploy one pool per denomination (sharing one hasher and verifier) and print "
                                      "MIXER_CONTRACT_ADDRESS; the deployer is MIXER_DEPLOYER_KEY, else PRIVATE_KEY")
    d.add_argument("--pools", default="0.1,1,10,100", metavar="AMOUNTS",
                   help="denominations in whole CRO, comma separated (default 0.1,1,10,100)")
    a = sub.add_parser("allow", help="print the Settlement owner's setMixerPool transaction for each POOL (so an "
                                     "operator's /mix may deposit from the treasury into it)")
    a.add_argument("pools", nargs="+", metavar="POOL")
    a.add_argument("--owner-key", action="store_true",
                   help=f"also sign and send it with the owner key in {OWNER_KEY_ENV} (dev chains only; refused on "
                        "Cronos 25 and 338)")
    sub.add_parser("status", help="each pool in MIXER_CONTRACT_ADDRESS: denomination, deposits, withdrawals, "
                                  "anonymity set, whether the treasury may deposit; and the relayer's gas")
    action = argv[0] if argv else None
    args = parse_action(parser, argv, action if action in ("deploy", "allow", "status") else "status", USAGE)
    if isinstance(args, int):
        return args
    settings.require("rpc_url")
    run = {"deploy": _deploy, "allow": _allow, "status": _status}[args.action]
    return asyncio.run(run(args, settings))


async def _node(settings: Settings):  # noqa: ANN202 - adapters.chain's HttpNode, imported late (slow to import)
    from adapters.chain import HttpNode

    assert settings.rpc_url
    node = HttpNode(settings.rpc_url)
    chain_id = await node.chain_id()
    if settings.chain_id and chain_id != settings.chain_id:
        await node.close()
        raise ConfigError(f"CHAIN_ID is {settings.chain_id} but the node at RPC_URL says {chain_id}")
    return node, chain_id


async def _deploy(args: argparse.Namespace, settings: Settings) -> int:
    from eth_account import Account

    from adapters.mixer.deploy import deploy_pools
    from core.errors import UsageError

    key = os.environ.get(DEPLOYER_KEY_ENV, "").strip() or (
        settings.private_key.get_secret_value() if settings.private_key else "")
    if not key:
        raise ConfigError(f"{DEPLOYER_KEY_ENV} or PRIVATE_KEY: the account that pays for deploying the pools "
                          "(a key is never passed on the command line)")
    try:
        deployer = Account.from_key(key).address
    except Exception:  # the library's message could echo part of the key
        raise ConfigError(f"{DEPLOYER_KEY_ENV} / PRIVATE_KEY is not a valid private key (0x followed by 64 hex "
                          "digits)") from None
    amounts = [a.strip() for a in args.pools.split(",") if a.strip()]
    if not amounts or len(set(amounts)) != len(amounts):
        raise ConfigError(f"--pools: “{args.pools[:40]}” should be distinct amounts in CRO, e.g. 0.1,1,10,100")
    node, chain_id = await _node(settings)
    try:
        try:
            pools = await deploy_pools(node, key, amounts)
        except UsageError as exc:
            raise ConfigError(f"--pools: {exc.message}") from None
    finally:
        await node.close()
    print(f"# deployed {len(pools)} pool(s) on chain {chain_id} from {deployer} "
          f"(hasher {pools[0].hasher}, verifier {pools[0].verifier})")
    for amount, pool in zip(amounts, pools):
        print(f"#   {amount} CRO: {pool.mixer} (block {pool.block_number})")
    print("export MIXER_CONTRACT_ADDRESS=" + ",".join(f"{p.mixer}@{p.block_number}" for p in pools))
    print("# next: the Settlement's owner allow-lists them (operators' /mix deposits from the treasury):")
    print("#   snowrail mixer allow " + " ".join(p.mixer for p in pools))
    print("# and set MIXER_RELAYER_KEY (its own funded key: it pays the gas of withdrawals) and MIXER_RELAYER_FEE")
    return 0


async def _allow(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.chain import settlement as st
    from core.addresses import parse_address
    from core.errors import UsageError

    settings.require("settlement_contract_address")
    contract = settings.settlement_contract_address
    assert contract
    try:
        pools = [parse_address(p, field="POOL") for p in args.pools]
    except UsageError as exc:
        raise ConfigError(exc.message) from None
    owner_key = owner_key_from_env(args.owner_key)
    node, chain_id = await _node(settings)
    try:
        for pool in pools:
            if not await node.code(pool):
                raise ConfigError(f"POOL: {pool} has no contract on chain {chain_id}; deploy with `snowrail mixer deploy`")
            data = st.set_mixer_pool_calldata(pool)
            print(f"# setMixerPool({pool}, true): the treasury may deposit into this pool (an operator's /mix)")
            await show_or_send_owner_tx(node, settings, chain_id, contract, data, owner_key)
    finally:
        await node.close()
    return 0


async def _status(args: argparse.Namespace, settings: Settings) -> int:
    from eth_account import Account

    from adapters.chain import settlement as st
    from adapters.mixer import GAS_WITHDRAW, MixerPool, parse_pools_setting
    from adapters.mixer.pool import LOG_CHUNK, WITHDRAWAL_TOPIC
    from core.money import format_units

    settings.require("mixer_contract_address")
    entries = parse_pools_setting(settings.mixer_contract_address or "")
    node, chain_id = await _node(settings)
    blocked = False
    try:
        relayer = (Account.from_key(settings.mixer_relayer_key.get_secret_value()).address
                   if settings.mixer_relayer_key else None)
        head = await node.block_number()
        print(f"mixer on chain {chain_id} (block {head})")
        for address, block in entries:
            if not await node.code(address):
                print(f"✗ {address}: no contract here (MIXER_CONTRACT_ADDRESS names a pool of another chain?)")
                blocked = True
                continue
            pool = MixerPool(node, address, "0x" + "11" * 32, chain_id=chain_id, deployed_block=block)
            deposits, value = await pool.next_index(), await node.balance(address)
            withdrawals = 0
            for start in range(block, head + 1, LOG_CHUNK):  # public Cronos nodes refuse wide log ranges
                withdrawals += len(await node.logs(address, [WITHDRAWAL_TOPIC], start, min(start + LOG_CHUNK - 1, head)))
            allowed = None
            if settings.settlement_contract_address:
                answer = await node.call({"to": settings.settlement_contract_address,
                                          "data": st.mixer_pools_calldata(address)})
                allowed = bool(int.from_bytes(answer, "big"))
            treasury = {None: "treasury: no SETTLEMENT_CONTRACT_ADDRESS to ask", True: "treasury may deposit",
                        False: "treasury may NOT deposit (snowrail mixer allow " + address + ")"}[allowed]
            print(f"{'✓' if allowed is not False else '✗'} {format_units(await pool.denomination(), 18)} CRO pool "
                  f"{address}: {deposits} deposit(s), {withdrawals} withdrawal(s), anonymity set {deposits}, "
                  f"holds {format_units(value, 18)} CRO; {treasury}")
            blocked = blocked or allowed is False
        if relayer is None:
            print("✗ relayer: MIXER_RELAYER_KEY is not set; /withdraw cannot be relayed")
            return 1
        gas, price = await node.balance(relayer), await node.base_fee() * 2 + await node.priority_fee()
        can = gas // (GAS_WITHDRAW * price) if price else 0
        print(f"{'✓' if can else '✗'} relayer {relayer}: {format_units(gas, 18)} CRO of gas, about {can} "
              f"withdrawal(s) at today's fees{'' if can else ' (fund it)'}")
        return 1 if blocked or not can else 0
    finally:
        await node.close()
