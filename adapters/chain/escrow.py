"""SettlementEscrow: the core's EscrowChain port over the Settlement contract's escrow (fund, release, refund).

It composes a Web3Chain rather than growing it: the same node transport, fee book, executor key, executor
epoch and simulate-then-sign path (a refusal becomes a ChainRejected sentence decoded from the custom error).
The encoding (intent hash, calldata, EIP-712 types, logs) is plain Python and checked against the contract.
"""

from __future__ import annotations

import time

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from core.errors import UserError
from core.escrow.ports import EscrowEvent, EscrowState, EscrowTerms, OnChain
from core.ports import SignedTx

from . import settlement as st
from .client import Web3Chain
from .rpc import RpcError
from .wire import as_int

FUND_INTENT = "fundIntent(address,uint256,uint64,bytes32)"
FUND_INTENT_TOKEN = "fundIntentToken(address,address,uint256,uint64,bytes32,uint256)"
RELEASE = st.selector("release(bytes32,uint256,bytes)")
REFUND = st.selector("refund(bytes32,uint256,bytes)")
REFUND_EXPIRED = st.selector("refundExpired(bytes32)")
ESCROW_OF = st.selector("escrowOf(bytes32)")
INTENT_HASH_OF = st.selector("intentHashOf(address,address,uint256,uint64,bytes32)")

INTENT_FUNDED = st.INTENT_FUNDED
INTENT_RELEASED = st.topic("IntentReleased(bytes32,address,uint256,uint256)")
INTENT_REFUNDED = st.topic("IntentRefunded(bytes32,address,uint256)")
_KINDS = {INTENT_FUNDED: "funded", INTENT_RELEASED: "released", INTENT_REFUNDED: "refunded"}
_STATUS = (OnChain.NONE, OnChain.OPEN, OnChain.RELEASED, OnChain.REFUNDED)

# Measured on anvil (tests/adapters/chain/test_escrow_contract.py): a native release to a fresh account ~91k, an ERC-20
# one with a surplus ~98k, an ERC-20 refund ~67k; the margin covers a recipient contract spending its 30k stipend.
GAS_RELEASE = 160_000
GAS_REFUND = 120_000
# eth_getLogs ranges: public Cronos nodes refuse more than 2,000 blocks per query.
LOG_CHUNK = 2_000
MIN_LOG_CHUNK = 100


# ---------------------------------------------------------------- encoding
def _bytes32(value: str, what: str) -> bytes:
    raw = bytes.fromhex(value.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"{what} must be 0x followed by 64 hex digits")
    return raw


def token_address(terms: EscrowTerms) -> str:
    """The token as the contract names it: address(0) for the native coin."""
    if terms.token.native:
        return st.ZERO
    if terms.token.address is None:
        raise UserError(f"token: {terms.token.symbol} has no contract on this chain", field="token")
    return to_checksum_address(terms.token.address)


def terms_tuple(terms: EscrowTerms) -> tuple[str, str, int, int, bytes]:
    """(token, recipient, amount, expiry, salt) as the contract takes them."""
    return (token_address(terms), to_checksum_address(terms.recipient), terms.amount, terms.expiry,
            _bytes32(terms.salt, "salt"))


def intent_hash(chain_id: int, settlement: str, terms: EscrowTerms) -> str:
    """keccak256(abi.encode(chainid, settlement, token, recipient, amount, expiry, salt)), as intentHashOf."""
    encoded = abi_encode(["uint256", "address", "address", "address", "uint256", "uint64", "bytes32"],
                         [chain_id, to_checksum_address(settlement), *terms_tuple(terms)])
    return "0x" + keccak(encoded).hex()


def intent_hash_of_calldata(terms: EscrowTerms) -> bytes:
    return INTENT_HASH_OF + abi_encode(["address", "address", "uint256", "uint64", "bytes32"], list(terms_tuple(terms)))


def fund_calldata(terms: EscrowTerms, value: int) -> bytes:
    """What a wallet sends to the Settlement to fund `value` (native: as the transaction's value)."""
    token, recipient, amount, expiry, salt = terms_tuple(terms)
    if terms.token.native:
        return st.selector(FUND_INTENT) + abi_encode(["address", "uint256", "uint64", "bytes32"],
                                                      [recipient, amount, expiry, salt])
    return st.selector(FUND_INTENT_TOKEN) + abi_encode(
        ["address", "address", "uint256", "uint64", "bytes32", "uint256"], [token, recipient, amount, expiry, salt, value])


def funding_links(chain_id: int, settlement: str, terms: EscrowTerms, value: int) -> list[str]:
    """EIP-681 (ERC-681) transaction requests: `ethereum:<address>@<chain>/<function>?<type>=<value>&...`,
    numbers in base units, `value` in wei. An ERC-20 needs two: approve the Settlement, then fund."""
    if value <= 0:
        raise UserError("amount: the funding amount must be greater than zero", field="amount")
    token, recipient, amount, expiry, salt = terms_tuple(terms)
    settlement = to_checksum_address(settlement)
    terms_query = f"address={recipient}&uint256={amount}&uint64={expiry}&bytes32=0x{salt.hex()}"
    if terms.token.native:
        return [f"ethereum:{settlement}@{chain_id}/fundIntent?{terms_query}&value={value}"]
    return [
        f"ethereum:{token}@{chain_id}/approve?address={settlement}&uint256={value}",
        f"ethereum:{settlement}@{chain_id}/fundIntentToken?address={token}&{terms_query}&uint256={value}",
    ]


def _action_typed_data(kind: str, chain_id: int, contract: str, intent: bytes, deadline: int, epoch: int) -> dict:
    """EIP-712 `Release(bytes32 intentHash,uint256 epoch,uint256 deadline)` or `Refund(...)` (same fields)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            kind: [{"name": "intentHash", "type": "bytes32"}, {"name": "epoch", "type": "uint256"},
                   {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": kind,
        "domain": {"name": st.DOMAIN_NAME, "version": st.DOMAIN_VERSION, "chainId": chain_id,
                   "verifyingContract": contract},
        "message": {"intentHash": intent, "epoch": epoch, "deadline": deadline},
    }


def release_typed_data(chain_id: int, contract: str, intent: bytes, deadline: int, *, epoch: int) -> dict:
    return _action_typed_data("Release", chain_id, contract, intent, deadline, epoch)


def refund_typed_data(chain_id: int, contract: str, intent: bytes, deadline: int, *, epoch: int) -> dict:
    return _action_typed_data("Refund", chain_id, contract, intent, deadline, epoch)


def action_calldata(selector: bytes, intent: bytes, deadline: int, signature: bytes) -> bytes:
    return selector + abi_encode(["bytes32", "uint256", "bytes"], [intent, deadline, signature])


def refund_expired_calldata(intent_hash: str) -> bytes:
    """refundExpired(intentHash): what a funder sends themselves, bot or no bot, once the intent expired."""
    return REFUND_EXPIRED + _bytes32(intent_hash, "intent_hash")


def decode_escrow(out: bytes) -> EscrowState:
    funder, _token, _recipient, _amount, _expiry, funded, status = abi_decode(
        ["address", "address", "address", "uint256", "uint64", "uint256", "uint8"], bytes(out))
    state = _STATUS[status]
    if state is OnChain.NONE:
        return EscrowState(OnChain.NONE)
    return EscrowState(state, to_checksum_address(funder), funded)


def escrow_event(entry: dict) -> EscrowEvent | None:
    """An IntentFunded/IntentReleased/IntentRefunded log (as Node.logs gives it), or None for other logs."""
    topics = entry["topics"]
    kind = _KINDS.get(topics[0]) if topics else None
    if kind is None:
        return None
    common = {"kind": kind, "intent_hash": "0x" + topics[1].hex(), "block_number": entry["block_number"],
              "tx_hash": entry["tx_hash"], "log_index": entry["log_index"]}
    data = entry["data"]
    if kind == "funded":
        value = int.from_bytes(data[:32], "big")
        return EscrowEvent(**common, funder=to_checksum_address(topics[2][12:]), value=value)
    if kind == "released":
        _recipient, amount, surplus = abi_decode(["address", "uint256", "uint256"], data)
        return EscrowEvent(**common, value=amount + surplus)
    funder, amount = abi_decode(["address", "uint256"], data)
    return EscrowEvent(**common, funder=to_checksum_address(funder), value=amount)


# ---------------------------------------------------------------- the port
class SettlementEscrow:
    """core.escrow.ports.EscrowChain over the Settlement that `chain` (a ready Web3Chain) pays from."""

    def __init__(self, chain: Web3Chain, *, log_chunk: int = LOG_CHUNK) -> None:
        self._chain = chain
        self._node = chain.node
        self.log_chunk = log_chunk

    def __repr__(self) -> str:
        return f"SettlementEscrow({self._chain!r})"

    @property
    def settlement(self) -> str:
        return self._chain.treasury

    def intent_hash(self, terms: EscrowTerms) -> str:
        return intent_hash(self._chain.chain_id, self.settlement, terms)

    def funding_links(self, terms: EscrowTerms, value: int) -> list[str]:
        return funding_links(self._chain.chain_id, self.settlement, terms, value)

    async def escrow(self, intent_hash: str) -> EscrowState:
        data = ESCROW_OF + _bytes32(intent_hash, "intent_hash")
        return decode_escrow(await self._node.call({"to": self.settlement, "data": data}))

    async def head(self) -> tuple[int, int]:
        block = await self._node.request("eth_getBlockByNumber", ["latest", False])
        return as_int(block["number"]), as_int(block["timestamp"])

    async def events(self, from_block: int, to_block: int) -> list[EscrowEvent]:
        """All the Settlement's logs in the range (one query per chunk, halved while a node refuses a chunk),
        keeping the three escrow events. One query for all logs rather than three per event: the Settlement's
        other events are few per block."""
        found: list[EscrowEvent] = []
        chunk, low = self.log_chunk, from_block
        while low <= to_block:
            high = min(to_block, low + chunk - 1)
            try:
                entries = await self._node.logs(self.settlement, [], low, high)
            except RpcError:
                if chunk <= MIN_LOG_CHUNK:
                    raise
                chunk //= 2
                continue
            found.extend(e for e in map(escrow_event, entries) if e is not None)
            low = high + 1
        found.sort(key=lambda e: (e.block_number, e.log_index))
        return found

    async def sign_release(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        return await self._sign(RELEASE, "Release", intent_hash, GAS_RELEASE, nonce, bump)

    async def sign_refund(self, intent_hash: str, nonce: int, *, bump: int = 0) -> SignedTx:
        return await self._sign(REFUND, "Refund", intent_hash, GAS_REFUND, nonce, bump)

    async def _sign(self, selector: bytes, kind: str, intent_hash: str, gas: int, nonce: int, bump: int) -> SignedTx:
        intent = _bytes32(intent_hash, "intent_hash")
        chain = self._chain
        chain_id, contract = chain.chain_id, self.settlement
        # The contract checks the deadline against block time, which may run ahead of ours (a dev chain moved
        # forward with evm_increaseTime): count from whichever is later.
        deadline = max(int(time.time()), (await self.head())[1]) + chain.deadline_window

        def build(epoch: int) -> bytes:
            typed = _action_typed_data(kind, chain_id, contract, intent, deadline, epoch)
            return action_calldata(selector, intent, deadline, chain._signature(typed))

        # Web3Chain's own path (package-internal): epoch cache and retry after a rotation, fee book, simulation
        # first. Releases and refunds take the executor's nonces like every other Settlement call.
        return await chain._sign_authorised(build, gas, nonce, bump)
