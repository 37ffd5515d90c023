"""Deploying the Settlement stack, per-chain token registries, and ready-made dev chains (eth-tester, anvil).

    deploy_stack(node, deployer_key, owner=..., executor=..., dev_tokens=True)  -> Deployment   (async)
    token_registry(chain_id, tokens="USDC=0x...,USDT=0x...")         -> TokenRegistry
    dev_chain()                                                      -> (Web3Chain, Deployment)
    start_anvil() / anvil_dev()                                      -> a local anvil with the stack on it
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from core.addresses import parse_address
from core.money import STANDARD_DECIMALS, Token, TokenRegistry

from . import artifacts
from .rpc import HttpNode, Node, TesterNode

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = REPO_ROOT / "node_modules" / ".bin" / "anvil"

# anvil's and hardhat's publicly known first test account (mnemonic "test test ... junk"). A dev key only:
# anything sent to it on a real network is taken by bots within seconds.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# eth-tester's first funded account has the private key 1.
TESTER_DEV_KEY = "0x" + "00" * 31 + "01"

# Cronos mainnet tokens (checked against their EIP-55 checksums); testnet tokens must come from TOKENS.
KNOWN_TOKENS: dict[int, dict[str, str]] = {
    25: {
        "WCRO": "0x5C7F8A570d578ED84E63fdFA7b1eE72dEae1AE23",
        "USDC": "0xc21223249CA28397B4B6541dfFaEcC539BfF0c59",
        "USDT": "0x66e428c3f67a68878562e79A0234c1F83c208770",
    },
}

DEV_TOKENS = (("Wrapped CRO", "WCRO", 18), ("USD Coin", "USDC", 6), ("Tether USD", "USDT", 6))
GAS_DEPLOY_SETTLEMENT = 3_000_000
GAS_DEPLOY_TOKEN = 2_500_000
GAS_CALL = 150_000


def parse_tokens_setting(text: str) -> dict[str, tuple[str, int]]:
    """TOKENS setting "USDC=0x...,USDT=0x...,FOO:8=0x..." -> {symbol: (address, decimals)}. Decimals default
    to the standard ones (USDC/USDT 6, WCRO 18); other symbols must say theirs with SYMBOL:decimals."""
    out: dict[str, tuple[str, int]] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, sep, address = part.partition("=")
        if not sep:
            raise ValueError(f"TOKENS: “{part}” should look like SYMBOL=0x… (or SYMBOL:decimals=0x…)")
        symbol, _, decimals_text = name.strip().partition(":")
        symbol = symbol.strip().upper()
        if decimals_text:
            decimals = int(decimals_text)
        elif symbol in STANDARD_DECIMALS:
            decimals = STANDARD_DECIMALS[symbol]
        else:
            raise ValueError(f"TOKENS: say the decimals of {symbol}, like {symbol}:18=0x…")
        out[symbol] = (parse_address(address, field="TOKENS"), decimals)
    return out


def token_registry(chain_id: int, tokens: str | dict[str, str] | None = None) -> TokenRegistry:
    """CRO (native, 18 decimals) plus the ERC-20s known on `chain_id`, overridden or extended by `tokens`
    (a TOKENS setting string, or {symbol: address} as deploy_stack returns for dev chains)."""
    entries: dict[str, tuple[str, int]] = {
        s: (a, STANDARD_DECIMALS[s]) for s, a in KNOWN_TOKENS.get(chain_id, {}).items()
    }
    if isinstance(tokens, str):
        entries.update(parse_tokens_setting(tokens))
    elif tokens:
        entries.update({s.upper(): (to_checksum_address(a), STANDARD_DECIMALS.get(s.upper(), 18)) for s, a in tokens.items()})
    return TokenRegistry([Token("CRO", 18, native=True)] + [Token(s, d, a) for s, (a, d) in entries.items()])


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

    def registry(self) -> TokenRegistry:
        return token_registry(self.chain_id, self.tokens)


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
        self.max_fee, self.tip = 2 * base_fee + 10**9, 10**9
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
) -> Deployment:
    """Deploy Settlement(owner, executor) from `deployer_key` (each defaults to the deployer, but the two
    must differ: the contract refuses an executor that is also the owner, so ValueError before sending).
    With `dev_tokens`, also deploy TestTokens WCRO(18)/USDC(6)/USDT(6) and mint `token_supply_whole` whole
    tokens of each into the treasury. `treasury_native` wei of the native coin are sent to the treasury,
    `fund_executor` wei to the executor (for gas). Only for dev chains should dev_tokens be True."""
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
    if treasury_native:
        await sender.send(settlement, value=treasury_native, gas=60_000)
    if fund_executor and executor != deployer:
        await sender.send(executor, value=fund_executor, gas=21_000)
    await sender.settle()
    return Deployment(chain_id, settlement, owner, executor, tokens, sender.blocks[settlement_tx])


def _run(coro):
    """Run a coroutine to completion from sync code, even when called inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", asyncio.run(coro)))
    worker.start()
    worker.join()
    return box["r"]


def dev_chain(*, treasury_cro: int = 100_000, deadline_window: int = 3600):
    """An in-process eth-tester chain with the stack deployed, dev tokens minted into the treasury and
    `treasury_cro` whole CRO in it. The executor and the owner are two fresh random keys (the executor funded
    for gas); the public tester key only pays for the deployment. Returns (Web3Chain, Deployment); the owner
    key is in `deployment.owner_key` only. Nothing is printed."""
    from eth_tester import EthereumTester

    from .client import Web3Chain

    node = TesterNode(EthereumTester())
    executor_key = "0x" + os.urandom(32).hex()
    executor = Account.from_key(executor_key).address
    owner_key, owner = new_key()
    deployment = _run(
        deploy_stack(
            node, TESTER_DEV_KEY, owner=owner, executor=executor, dev_tokens=True,
            treasury_native=treasury_cro * 10**18, fund_executor=1_000 * 10**18,
        )
    )
    deployment = replace(deployment, owner_key=owner_key)
    chain = Web3Chain(
        node, executor_key, deployment.settlement, chain_id=deployment.chain_id,
        tokens=deployment.registry(), deadline_window=deadline_window, deployed_block=deployment.block_number,
    )
    return chain, deployment


# ---------------------------------------------------------------- anvil
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_keys(count: int = 10) -> list[str]:
    """The private keys of anvil's default funded accounts (public test keys)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        "0x" + bytes(Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
        for i in range(count)
    ]


@dataclass
class AnvilProcess:
    """A running anvil. `stop()` ends it (only this process, by its own handle)."""

    process: subprocess.Popen
    port: int
    chain_id: int
    log: object = None  # a temporary file holding anvil's stderr

    def stderr_tail(self, limit: int = 2000) -> str:
        if self.log is None or self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None and not self.log.closed:
            self.log.close()


def start_anvil(*, port: int | None = None, chain_id: int = 31337, extra_args: tuple[str, ...] = (),
                timeout: float = 15.0) -> AnvilProcess:
    """Start node_modules/.bin/anvil on a free port and wait until eth_chainId answers."""
    binary = ANVIL_BIN if ANVIL_BIN.exists() else (shutil.which("anvil") and Path(shutil.which("anvil")))
    if not binary or not Path(binary).exists():
        raise FileNotFoundError(f"{ANVIL_BIN} is missing: run `npm ci` in {REPO_ROOT}")
    tail = ""
    for _attempt in range(3):
        chosen = port or free_port()
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(chosen), "--chain-id", str(chain_id), "--silent",
             *extra_args],
            stdout=subprocess.DEVNULL, stderr=log,
        )
        anvil = AnvilProcess(process, chosen, chain_id, log)
        if _wait_for_rpc(anvil, timeout):
            return anvil
        tail = anvil.stderr_tail()
        anvil.stop()
        if port:
            break
    raise RuntimeError(f"anvil did not start answering on 127.0.0.1 within {timeout:.0f} s: {tail}")


def _wait_for_rpc(anvil: AnvilProcess, timeout: float) -> bool:
    import json
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if anvil.process.poll() is not None:
            return False
        try:
            req = urllib.request.Request(anvil.url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=1) as resp:
                if int(json.loads(resp.read())["result"], 16) == anvil.chain_id:
                    return True
        except OSError:
            time.sleep(0.02)
    return False


async def deploy_dev_stack(url: str, deployer_key: str = ANVIL_DEV_KEY, *, treasury_cro: int = 5_000,
                           executor: str | None = None, owner: str | None = None) -> Deployment:
    """deploy_stack with dev tokens and a funded treasury on the node at `url` (anvil). The executor defaults
    to the deployer; without `owner`, a fresh owner key is generated and returned in `owner_key`."""
    owner_key = None
    if owner is None:
        owner_key, owner = new_key()
    node = HttpNode(url)
    try:
        deployment = await deploy_stack(node, deployer_key, owner=owner, executor=executor, dev_tokens=True,
                                        treasury_native=treasury_cro * 10**18)
    finally:
        await node.close()
    return replace(deployment, owner_key=owner_key)


def anvil_dev(*, port: int | None = None, treasury_cro: int = 1_000_000, out=print) -> tuple[AnvilProcess, Deployment]:
    """For `snowrail chain dev`: start anvil (dev accounts funded with 2x `treasury_cro`), deploy the dev
    stack, print the settings to export. The caller keeps the returned process alive and stop()s it.
    The executor is anvil's public test key; the owner is a key generated now and printed once, apart from
    the exports (the bot never needs it)."""
    anvil = start_anvil(port=port, extra_args=("--balance", str(2 * treasury_cro)))
    try:
        deployment = _run(deploy_dev_stack(anvil.url, treasury_cro=treasury_cro))
    except BaseException:
        anvil.stop()
        raise
    tokens = ",".join(f"{s}={a}" for s, a in deployment.tokens.items())
    out(f"# anvil on {anvil.url} (pid {anvil.process.pid}); a dev chain: the key below is public, never fund it")
    out(f"export RPC_URL={anvil.url}")
    out(f"export CHAIN_ID={deployment.chain_id}")
    out(f"export PRIVATE_KEY={ANVIL_DEV_KEY}")
    out(f"export SETTLEMENT_CONTRACT_ADDRESS={deployment.settlement}")
    out(f"export TOKENS={tokens}")
    out(f"# Settlement owner {deployment.owner}: its key is shown only this once, store it if you need to sweep,")
    out("# rotate the executor or allow-list a mixer pool on this chain; never give it to the bot:")
    out(f"#   owner key: {deployment.owner_key}")
    return anvil, deployment
