"""The EVM floor a bulk payout's gas is measured against: contracts/test/DisperseBaseline.sol (a bare loop of
transfers in the shape of Disperse's disperseEther/disperseToken), deployed and run in the same session.

    floor = await GasFloor.deploy(node, key)            # key: a funded dev key that owns the dev tokens
    gas = await floor.disperse(recipients, amounts, token=None | address, chunk=200)   -> total gas used
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak

from adapters.chain import artifacts
from adapters.chain.deploy import create_address
from adapters.chain.rpc import Node

_DISPERSE_ETHER = keccak(text="disperseEther(address[],uint256[])")[:4]
_DISPERSE_TOKEN = keccak(text="disperseToken(address,address[],uint256[])")[:4]
_MINT = keccak(text="mint(address,uint256)")[:4]


@dataclass
class GasFloor:
    node: Node
    key: str
    chain_id: int
    address: str

    @classmethod
    async def deploy(cls, node: Node, key: str) -> GasFloor:
        floor = cls(node, key, await node.chain_id(), "")
        sender = Account.from_key(key).address
        nonce = await node.pending_nonce(sender)
        await floor._send(None, artifacts.load("DisperseBaseline").bytecode, gas=1_000_000)
        floor.address = create_address(sender, nonce)
        return floor

    async def _send(self, to: str | None, data: bytes, *, value: int = 0, gas: int = 16_000_000) -> dict:
        account = Account.from_key(self.key)
        nonce = await self.node.pending_nonce(account.address)
        base = await self.node.base_fee()
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "value": value, "data": data, "gas": gas,
              "maxFeePerGas": 2 * base + 10**9, "maxPriorityFeePerGas": 10**9}
        if to is not None:
            tx["to"] = to
        tx_hash = await self.node.send_raw(bytes(account.sign_transaction(tx).raw_transaction))
        for _ in range(3000):
            if (receipt := await self.node.receipt(tx_hash)) is not None:
                if receipt["status"] != 1:
                    raise RuntimeError(f"baseline transaction {tx_hash} failed")
                return receipt
            await asyncio.sleep(0.01)
        raise TimeoutError(f"baseline transaction {tx_hash} was not mined")

    async def disperse(self, recipients: list[str], amounts: list[int], *, token: str | None = None,
                       chunk: int = 200) -> int:
        """Pay every recipient through the baseline in transactions of `chunk` rows; the total gas used.
        An ERC-20 is minted into the baseline first (`key` must own the dev token), outside the total."""
        if token is not None:
            await self._send(token, _MINT + abi_encode(["address", "uint256"], [self.address, sum(amounts)]),
                             gas=200_000)
        total = 0
        for start in range(0, len(recipients), chunk):
            to, units = recipients[start : start + chunk], amounts[start : start + chunk]
            if token is None:
                data = _DISPERSE_ETHER + abi_encode(["address[]", "uint256[]"], [to, units])
                receipt = await self._send(self.address, data, value=sum(units))
            else:
                data = _DISPERSE_TOKEN + abi_encode(["address", "address[]", "uint256[]"], [token, to, units])
                receipt = await self._send(self.address, data)
            total += receipt["gas_used"]
        return total


async def floor_gas_per_payout(url: str, key: str, amounts: list[int], *, chunk: int, token: str | None = None,
                               seed: int = 11) -> float:
    """Gas per payout of the baseline paying `amounts` to as many fresh addresses in `chunk`-row transactions
    (fresh, as the benchmark's own recipients are: each transfer creates an account or a token balance)."""
    import random

    from adapters.chain.rpc import HttpNode

    rnd = random.Random(seed)
    recipients = [Account.from_key(rnd.getrandbits(256).to_bytes(32, "big")).address for _ in amounts]
    node = HttpNode(url)
    try:
        floor = await GasFloor.deploy(node, key)
        return await floor.disperse(recipients, amounts, token=token, chunk=max(1, chunk)) / len(amounts)
    finally:
        await node.close()
