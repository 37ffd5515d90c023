"""Deploying the Settlement stack: the contract, dev test tokens minted into the treasury, and its funding.

    deploy_stack(node, deployer_key, owner=..., executor=..., dev_tokens=True)  -> Deployment   (async)
    Deployment.registry()                                            -> TokenRegistry of the chain
    Deployment.price_feeds_setting()                                 -> "CRO/USD=0x…" for PRICE_FEEDS
Ready-made dev chains (eth-tester, anvil) are in adapters.chain.devnet; known tokens in adapters.chain.tokens.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from core.money import TokenRegistry

from . import artifacts
from .fees import max_fee_per_gas
from .rpc import Node
from .tokens import token_registry

DEV_TOKENS = (("Wrapped CRO", "WCRO", 18), ("USD Coin", "USDC", 6), ("Tether USD", "USDT", 6))
GAS_DEPLOY_SETTLEMENT = 4_500_000  # ~3.3M measured with the escrow (eth_estimateGas on eth-tester)
GAS_DEPLOY_TOKEN = 2_500_000
GAS_DEPLOY_PRICE_FEED = 1_000_000  # ~0.55M measured
# Owns the dev price feed on dev chains, so tests and the console's /price can move it. Anvil's public test
# account 9 (mnemonic "test test ... junk"): a dev key only, never the executor (its nonces are the bot's), and
# funded with gas by deploy_stack where it holds nothing (eth-tester).
DEV_PRICE_MOVER_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
DEV_PRICE_PAIR = "CRO/USD"
DEV_PRICE_DECIMALS = 8
DEV_PRICE_START = 10_000_000  # 0.10 USD
GAS_CALL = 150_000


@dataclass(frozen=True)
class Deployment:
    """Where the stack lives on one chain. `block_number` is the block that created the Settlement.
    `owner_key` is set only when a dev helper generated the owner: the caller shows it once or drops it."""

    chain_id: int
    settlement: str
    owner: str
    executor: str
    tokens: dict[str, str] = field(default_factory=dict)  # symbol -> address (dev tokens)
    block_number: int = 0
    owner_key: str | None = field(default=None, repr=False, compare=False)
    price_feeds: dict[str, str] = field(default_factory=dict)  # pair -> DevPriceFeed address (dev chains)

    def registry(self) -> TokenRegistry:
        return token_registry(self.chain_id, self.tokens)

    def price_feeds_setting(self) -> str:
        return ",".join(f"{pair}={address}" for pair, address in self.price_feeds.items())


def new_key() -> tuple[str, str]:
    """A fresh random private key and its address (for a dev chain's separate owner)."""
    account = Account.create()
    return "0x" + bytes(account.key).hex(), account.address


def create_address(sender: str, nonce: int) -> str:
    """The address a contract created by `sender` at `nonce` gets (RLP of [sender, nonce])."""
    body = bytes.fromhex(sender[2:])
    if nonce == 0:
        enc_nonce = b"\x80"
    elif nonce < 0x80:
        enc_nonce = bytes([nonce])
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
        enc_nonce = bytes([0x80 + len(raw)]) + raw
    payload = b"\x94" + body + enc_nonce
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


class _Sender:
    """Signs and sends the deployer's transactions back to back with consecutive nonces; waits once."""

    def __init__(self, node: Node, key: str, chain_id: int, nonce: int, base_fee: int) -> None:
        self.node, self.account, self.chain_id, self.nonce = node, Account.from_key(key), chain_id, nonce
        self.tip = 10**9
        self.max_fee = max_fee_per_gas(base_fee, self.tip)
        self.hashes: list[str] = []
        self.blocks: dict[str, int] = {}

    async def send(self, to: str | None, data: bytes = b"", value: int = 0, gas: int = GAS_CALL) -> str | None:
        tx = {"type": 2, "chainId": self.chain_id, "nonce": self.nonce, "value": value, "data": data,
              "gas": gas, "maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.tip}
        created = None
        if to is None:
            created = create_address(self.account.address, self.nonce)
        else:
            tx["to"] = to
        signed = self.account.sign_transaction(tx)
        self.hashes.append(await self.node.send_raw(bytes(signed.raw_transaction)))
        self.nonce += 1
        return created

    async def deploy(self, name: str, types: list[str], args: list, gas: int) -> str:
        art = artifacts.load(name)
        address = await self.send(None, art.bytecode + abi_encode(types, args), gas=gas)
        assert address is not None
        return address

    async def settle(self, timeout: float = 120.0) -> int:
        """Wait for every sent transaction; raise if any failed. Returns the last block number."""
        last = 0
        end = time.monotonic() + timeout
        for tx_hash in self.hashes:
            while (r := await self.node.receipt(tx_hash)) is None:
                if time.monotonic() > end:
                    raise TimeoutError(f"deployment transaction {tx_hash} was not mined in {timeout:.0f} s")
                await asyncio.sleep(0.05)
            if r["status"] != 1:
                raise RuntimeError(f"deployment transaction {tx_hash} failed")
            self.blocks[tx_hash] = r["block_number"]
            last = max(last, r["block_number"])
        self.hashes.clear()
        return last


async def deploy_stack(
    node: Node,
    deployer_key: str,
    *,
    executor: str | None = None,
    owner: str | None = None,
    dev_tokens: bool = False,
    treasury_native: int = 0,
    token_supply_whole: int = 1_000_000_000,
    fund_executor: int = 0,
    dev_price_feed: bool | None = None,
) -> Deployment:
    """Deploy Settlement(owner, executor) from `deployer_key` (each defaults to the deployer, but the two
    must differ: the contract refuses an executor that is also the owner, so ValueError before sending).
    With `dev_tokens`, also deploy TestTokens WCRO(18)/USDC(6)/USDT(6) and mint `token_supply_whole` whole
    tokens of each into the treasury. `treasury_native` wei of the native coin are sent to the treasury,
    `fund_executor` wei to the executor (for gas). Only for dev chains should dev_tokens be True.
    `dev_price_feed` (default: as dev_tokens) also deploys a DevPriceFeed "CRO / USD" at 0.10 USD owned by
    DEV_PRICE_MOVER_KEY's address (Deployment.price_feeds)."""
    deployer = Account.from_key(deployer_key).address
    owner = to_checksum_address(owner or deployer)
    executor = to_checksum_address(executor or deployer)
    if owner == executor:
        raise ValueError(
            f"the owner and the executor would both be {owner}: the owner can sweep the treasury and replace "
            "the executor, so it must be a different key, kept off the bot's hosts"
        )
    chain_id, nonce, base_fee = await asyncio.gather(node.chain_id(), node.pending_nonce(deployer), node.base_fee())
    sender = _Sender(node, deployer_key, chain_id, nonce, base_fee)
    settlement = await sender.deploy("Settlement", ["address", "address"], [owner, executor], GAS_DEPLOY_SETTLEMENT)
    settlement_tx = sender.hashes[-1]
    tokens: dict[str, str] = {}
    if dev_tokens:
        for name, symbol, decimals in DEV_TOKENS:
            tokens[symbol] = await sender.deploy(
                "TestToken", ["string", "string", "uint8", "address"], [name, symbol, decimals, deployer],
                GAS_DEPLOY_TOKEN,
            )
        mint = keccak(text="mint(address,uint256)")[:4]
        for (_, symbol, decimals) in DEV_TOKENS:
            amount = token_supply_whole * 10**decimals
            await sender.send(tokens[symbol], mint + abi_encode(["address", "uint256"], [settlement, amount]))
    feeds: dict[str, str] = {}
    if dev_tokens if dev_price_feed is None else dev_price_feed:
        mover = Account.from_key(DEV_PRICE_MOVER_KEY).address
        feeds[DEV_PRICE_PAIR] = await sender.deploy(
            "DevPriceFeed", ["uint8", "string", "int256", "address"],
            [DEV_PRICE_DECIMALS, "CRO / USD", DEV_PRICE_START, mover], GAS_DEPLOY_PRICE_FEED)
        if await node.balance(mover) == 0:
            await sender.send(mover, value=10 * 10**18, gas=21_000)
    if treasury_native:
        await sender.send(settlement, value=treasury_native, gas=60_000)
    if fund_executor and executor != deployer:
        await sender.send(executor, value=fund_executor, gas=21_000)
    await sender.settle()
    return Deployment(chain_id, settlement, owner, executor, tokens, sender.blocks[settlement_tx], price_feeds=feeds)


async def owner_transaction(node: Node, key: str, to: str, data: bytes, *, gas: int = GAS_CALL) -> tuple[str, int]:
    """Sign `data` to `to` with the owner's `key` (dev chains: the CLI refuses real ones), send it and wait:
    (transaction hash, block). Simulated first, so a refusal raises Reverted with the contract's error."""
    sender_address = Account.from_key(key).address
    await node.call({"from": sender_address, "to": to, "data": data, "gas": gas})
    chain_id, nonce, base_fee = await asyncio.gather(node.chain_id(), node.pending_nonce(sender_address),
                                                     node.base_fee())
    sender = _Sender(node, key, chain_id, nonce, base_fee)
    await sender.send(to, data, gas=gas)
    tx_hash = sender.hashes[0]
    block = await sender.settle()
    return tx_hash, block
