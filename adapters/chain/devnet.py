"""Ready-made dev chains: in-process eth-tester, or a local anvil process, with the Settlement stack deployed.

    dev_chain()                                                      -> (Web3Chain, Deployment)
    start_anvil() / anvil_keys() / free_port()                       -> a local anvil and its funded keys
    deploy_dev_stack(url) / anvil_dev()                              -> the dev stack on an anvil (`snowrail chain dev`)
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from eth_account import Account

from .client import Web3Chain
from .deploy import Deployment, deploy_stack, new_key
from .rpc import HttpNode
from .tester import TesterNode

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = REPO_ROOT / "node_modules" / ".bin" / "anvil"

# anvil's and hardhat's publicly known first test account (mnemonic "test test ... junk"). A dev key only:
# anything sent to it on a real network is taken by bots within seconds.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# eth-tester's first funded account has the private key 1.
TESTER_DEV_KEY = "0x" + "00" * 31 + "01"


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
    log: IO[bytes] | None = None  # a temporary file holding anvil's stderr

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
    on_path = shutil.which("anvil")
    binary = ANVIL_BIN if ANVIL_BIN.exists() else Path(on_path) if on_path else None
    if binary is None or not binary.exists():
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
    out(f"export PRICE_FEEDS={deployment.price_feeds_setting()}")
    out(f"# Settlement owner {deployment.owner}: its key is shown only this once, store it if you need to sweep,")
    out("# rotate the executor or allow-list a mixer pool on this chain; never give it to the bot:")
    out(f"#   owner key: {deployment.owner_key}")
    return anvil, deployment
