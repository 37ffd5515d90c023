"""The chain adapter: SnowRail's Settlement contract on an EVM node (Cronos, anvil, in-process eth-tester).

Public API
    await connect(rpc_url, private_key, settlement_address, chain_id=None, tokens=None, **options) -> Web3Chain
        An HTTP JSON-RPC node. Reads eth_chainId once (and checks it against `chain_id` if given).
        `tokens`: a TOKENS setting string "USDC=0x...,USDT=0x..." or a TokenRegistry; Cronos mainnet (25)
        knows WCRO/USDC/USDT already. Options: deadline_window (s, default 3600), fee_ttl (s, default 3),
        explorer_base, timeout (s, default 10), deployed_block (bounds paid_by's log search; found on first use).
    dev_chain(treasury_cro=1_000_000) -> (Web3Chain, Deployment)
        In-process eth-tester with Settlement + WCRO/USDC/USDT test tokens deployed and a funded treasury;
        owner and executor are two keys generated per start (the owner's only in Deployment.owner_key).
    Web3Chain  implements core.ports.Chain (paid_by, sign_batch, broadcast_many, fee_per_gas and
        batch_capacity included), plus onchain_executor(), onchain_epoch(), ready(), close(). Only the
        executor may submit to the Settlement, and every authorisation carries the contract's executor epoch.
    batch_gas_limit(n), batch_capacity(max_gas), chunk_orders(orders, max_gas)   sizing executeBatch (gas).
    deploy_stack(node, deployer_key, ...) in adapters.chain.deploy; token_registry(chain_id, tokens) in
        adapters.chain.tokens; start_anvil(), anvil_dev(), dev_chain() in adapters.chain.devnet.
Nothing connects at import time.
"""

from __future__ import annotations

from core.metrics import Metrics
from core.money import TokenRegistry

from .client import Web3Chain
from .deploy import Deployment, deploy_stack
from .devnet import dev_chain
from .gas import GAS_EXECUTE, GAS_PER_BATCH_ITEM, TX_GAS_CAP, batch_capacity, batch_gas_limit, chunk_orders
from .refusals import NonceAlreadyUsed, ReplacementUnderpriced
from .rpc import HttpNode
from .tester import TesterNode
from .tokens import token_registry


async def connect(
    rpc_url: str,
    private_key: str,
    settlement_address: str,
    chain_id: int | None = None,
    tokens: str | TokenRegistry | None = None,
    **options,
) -> Web3Chain:
    """A ready Web3Chain on the node at `rpc_url` (raises ChainUnavailable if it does not answer)."""
    chain = build(rpc_url, private_key, settlement_address, chain_id, tokens, **options)
    try:
        return await chain.ready()
    except BaseException:
        await chain.close()
        raise


def build(
    rpc_url: str,
    private_key: str,
    settlement_address: str,
    chain_id: int | None = None,
    tokens: str | TokenRegistry | None = None,
    *,
    timeout: float = 10.0,
    metrics: Metrics | None = None,
    **options,
) -> Web3Chain:
    """Like connect() but without touching the network (give chain_id, or await chain.ready() later).
    `metrics`: where the node's calls are timed (core.metrics)."""
    return Web3Chain(HttpNode(rpc_url, timeout=timeout, metrics=metrics), private_key, settlement_address,
                     chain_id=chain_id, tokens=tokens, **options)


__all__ = [
    "GAS_EXECUTE", "GAS_PER_BATCH_ITEM", "Deployment", "HttpNode", "NonceAlreadyUsed", "ReplacementUnderpriced",
    "TX_GAS_CAP", "TesterNode", "Web3Chain", "batch_capacity", "batch_gas_limit", "build", "chunk_orders", "connect",
    "deploy_stack", "dev_chain", "token_registry",
]
