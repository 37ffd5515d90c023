"""The Settlement contract's calls, EIP-712 authorisations, events and custom errors, in plain Python.

Nothing here talks to a node: it encodes calldata, builds the typed data the executor signs, decodes logs
from receipts and turns revert data into the plain sentences SnowRail shows to people.

Every signed struct carries the contract's `executorEpoch` (the contract hashes its current one, so the
calldata does not repeat it): a signature made before `setExecutor` never verifies after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from core.addresses import short
from core.money import TokenRegistry, format_units
from core.ports import PaymentOrder

DOMAIN_NAME = "SnowRail Settlement"
DOMAIN_VERSION = "1"
ZERO = "0x" + "00" * 20
PAYMENT_TUPLE = "(bytes32,address,address,uint256)"

_PAYMENT_FIELDS = [
    {"name": "intentHash", "type": "bytes32"},
    {"name": "token", "type": "address"},
    {"name": "recipient", "type": "address"},
    {"name": "amount", "type": "uint256"},
]
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def topic(signature: str) -> bytes:
    return keccak(text=signature)


EXECUTE = selector(f"execute({PAYMENT_TUPLE},uint256,bytes)")
EXECUTE_MIXER_DEPOSIT = selector(f"executeMixerDeposit({PAYMENT_TUPLE},uint256,uint256,bytes)")
SET_MIXER_POOL = selector("setMixerPool(address,bool)")
EXECUTED = selector("executed(bytes32)")
EXECUTOR = selector("executor()")
EXECUTOR_EPOCH = selector("executorEpoch()")
OWNER = selector("owner()")
PENDING_OWNER = selector("pendingOwner()")
BALANCE_OF = selector("balanceOf(address)")
SET_EXECUTOR_ALLOWANCE = selector("setExecutorAllowance(address,uint256,uint256)")
EXECUTOR_ALLOWANCE = selector("executorAllowance(address)")

PAYMENT_EXECUTED = topic("PaymentExecuted(bytes32,address,address,uint256)")
ROWS_PAID = topic("RowsPaid(uint256,uint256)")
ROW_FAILED = topic("RowFailed(uint256,address,address,uint256,bytes)")
ROW_SKIPPED = topic("RowSkipped(uint256)")
INTENT_FUNDED = topic("IntentFunded(bytes32,address,address,uint256,uint256)")

ALREADY_EXECUTED = "this payment was already executed on chain"


# ---------------------------------------------------------------- orders and calldata
def payment_tuple(order: PaymentOrder) -> tuple[bytes, str, str, int]:
    """The on-chain Payment struct for an order, with the native coin as token address(0)."""
    intent = bytes.fromhex(order.intent_hash.removeprefix("0x"))
    if len(intent) != 32:
        raise ValueError("intent_hash must be 0x followed by 64 hex digits")
    token = ZERO if order.token.native else order.token.address
    if token is None:
        raise ValueError(f"token {order.token.symbol} has no address on this chain")
    return intent, to_checksum_address(token), to_checksum_address(order.recipient), order.amount


def _typed_payment(p: tuple[bytes, str, str, int]) -> dict:
    return {"intentHash": p[0], "token": p[1], "recipient": p[2], "amount": p[3]}


def _domain(chain_id: int, contract: str) -> dict:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": contract}


_EPOCH = {"name": "epoch", "type": "uint256"}
_DEADLINE = {"name": "deadline", "type": "uint256"}


def execute_typed_data(chain_id: int, contract: str, payment: tuple, deadline: int, *, epoch: int) -> dict:
    """EIP-712 `Execute(Payment payment,uint256 epoch,uint256 deadline)` as eth_account's full_message."""
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            "Execute": [{"name": "payment", "type": "Payment"}, _EPOCH, _DEADLINE],
            "Payment": _PAYMENT_FIELDS,
        },
        "primaryType": "Execute",
        "domain": _domain(chain_id, contract),
        "message": {"payment": _typed_payment(payment), "epoch": epoch, "deadline": deadline},
    }


def mixer_deposit_typed_data(chain_id: int, contract: str, payment: tuple, commitment: int, deadline: int, *,
                             epoch: int) -> dict:
    """EIP-712 `MixerDeposit(Payment payment,uint256 commitment,uint256 epoch,uint256 deadline)`: the treasury
    deposits `commitment` into the pool `payment.recipient`."""
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            "MixerDeposit": [{"name": "payment", "type": "Payment"}, {"name": "commitment", "type": "uint256"},
                             _EPOCH, _DEADLINE],
            "Payment": _PAYMENT_FIELDS,
        },
        "primaryType": "MixerDeposit",
        "domain": _domain(chain_id, contract),
        "message": {"payment": _typed_payment(payment), "commitment": commitment, "epoch": epoch,
                    "deadline": deadline},
    }


def mixer_deposit_calldata(payment: tuple, commitment: int, deadline: int, signature: bytes) -> bytes:
    return EXECUTE_MIXER_DEPOSIT + abi_encode([PAYMENT_TUPLE, "uint256", "uint256", "bytes"],
                                              [payment, commitment, deadline, signature])


def mixer_pools_calldata(pool: str) -> bytes:
    return selector("mixerPools(address)") + abi_encode(["address"], [to_checksum_address(pool)])


def set_mixer_pool_calldata(pool: str, allowed: bool = True) -> bytes:
    return SET_MIXER_POOL + abi_encode(["address", "bool"], [to_checksum_address(pool), allowed])


def execute_calldata(payment: tuple, deadline: int, signature: bytes) -> bytes:
    return EXECUTE + abi_encode([PAYMENT_TUPLE, "uint256", "bytes"], [payment, deadline, signature])


def set_executor_allowance_calldata(token: str, amount: int, period: int) -> bytes:
    """The owner's `setExecutorAllowance(token, amount, period)`; token address(0) is the native coin."""
    return SET_EXECUTOR_ALLOWANCE + abi_encode(["address", "uint256", "uint256"],
                                               [to_checksum_address(token), amount, period])


def executor_allowance_calldata(token: str) -> bytes:
    return EXECUTOR_ALLOWANCE + abi_encode(["address"], [to_checksum_address(token)])


def decode_executor_allowance(out: bytes) -> tuple[int, int, int, int]:
    """(amount, period, spent, windowStart) from `executorAllowance(token)`; period 0: no cap is set."""
    amount, period, spent, start = abi_decode(["uint256", "uint256", "uint256", "uint256"], bytes(out))
    return amount, period, spent, start


def intent_topic(intent_hash: str) -> bytes:
    """An intent hash as the 32-byte indexed topic of PaymentExecuted."""
    raw = bytes.fromhex(intent_hash.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError("intent_hash must be 0x followed by 64 hex digits")
    return raw


def executed_calldata(intent_hash: str) -> bytes:
    return EXECUTED + bytes.fromhex(intent_hash.removeprefix("0x")).rjust(32, b"\0")


def balance_of_calldata(owner: str) -> bytes:
    return BALANCE_OF + abi_encode(["address"], [owner])


# ---------------------------------------------------------------- logs
@dataclass(frozen=True)
class Log:
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class PayoutOutcome:
    """What a receipt's Settlement logs say: intents paid (execute, mixer deposits), and bulk rows paid and
    (row id, reason sentence) refused or skipped by executeBatch."""

    paid: frozenset[str]
    paid_rows: frozenset[int] = frozenset()
    failed_rows: tuple[tuple[int, str], ...] = ()


def payout_outcome(logs: list[Log], contract: str, tokens: TokenRegistry) -> PayoutOutcome:
    paid: list[str] = []
    paid_rows: list[int] = []
    failed_rows: list[tuple[int, str]] = []
    contract = contract.lower()
    for log in logs:
        if log.address.lower() != contract or not log.topics:
            continue
        kind = log.topics[0]
        if kind == PAYMENT_EXECUTED:
            paid.append("0x" + log.topics[1].hex())
        elif kind == ROWS_PAID:
            word, bits = int.from_bytes(log.topics[1], "big"), int.from_bytes(log.data[:32], "big")
            paid_rows.extend(word << 8 | bit for bit in range(256) if bits >> bit & 1)
        elif kind == ROW_FAILED:
            reason_data = abi_decode(["address", "address", "uint256", "bytes"], log.data)[3]
            failed_rows.append((int.from_bytes(log.topics[1], "big"), revert_sentence(reason_data, tokens)))
        elif kind == ROW_SKIPPED:
            failed_rows.append((int.from_bytes(log.topics[1], "big"), ALREADY_EXECUTED))
    return PayoutOutcome(frozenset(paid), frozenset(paid_rows), tuple(failed_rows))


# ---------------------------------------------------------------- revert reasons
def _amount(tokens: TokenRegistry, token: str, units: int) -> str:
    known = tokens.by_address(token)
    if known is None:
        return f"{units} base units of token {short(to_checksum_address(token))}"
    return f"{format_units(units, known.decimals)} {known.symbol}"


def _when(deadline: int) -> str:
    try:
        return datetime.fromtimestamp(deadline, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return str(deadline)


def _insufficient(args: tuple, tokens: TokenRegistry) -> str:
    token, available, required = args
    return (
        f"the treasury holds {_amount(tokens, token, available)}; "
        f"this payment needs {_amount(tokens, token, required)}"
    )


def _allowance_exceeded(args: tuple, tokens: TokenRegistry) -> str:
    token, remaining, required, refills_at = args
    return (
        f"the executor's on-chain allowance has {_amount(tokens, token, remaining)} left until {_when(refills_at)}; "
        f"this payment needs {_amount(tokens, token, required)} (the Settlement's owner sets the allowance)"
    )


# selector -> (ABI types of the arguments, sentence builder)
_ERRORS: dict[bytes, tuple[list[str], Callable[[tuple[Any, ...], TokenRegistry], str]]] = {
    selector("IntentAlreadyExecuted(bytes32)"): (["bytes32"], lambda a, t: ALREADY_EXECUTED),
    selector("AuthorizationExpired(uint256)"): (
        ["uint256"],
        lambda a, t: f"the payment authorisation expired at {_when(a[0])}; it has to be signed again",
    ),
    selector("InvalidSignature()"): (
        [],
        lambda a, t: "the Settlement contract did not accept the executor's signature "
        "(is this key the contract's executor, and was the executor rotated since it was signed?)",
    ),
    selector("NotExecutor()"): (
        [],
        lambda a, t: "only the Settlement contract's executor may submit payments, and this key is not it "
        "(the owner may have rotated the executor)",
    ),
    selector("ExecutorIsOwner()"): (
        [], lambda a, t: "the executor and the owner of the Settlement contract must be different accounts"),
    selector("FeeOnTransferRefused(address)"): (
        ["address"], lambda a, t: f"the token {short(to_checksum_address(a[0]))} moved a different amount than asked "
        "(a fee-on-transfer token): intents do not take it"),
    selector("ZeroToken()"): ([], lambda a, t: "the native coin is funded with fundIntent, not fundIntentToken"),
    selector("ExpiryNotInFuture(uint64)"): (["uint64"], lambda a, t: f"the expiry {_when(a[0])} is not in the future"),
    selector("NotFunder(bytes32,address)"): (
        ["bytes32", "address"], lambda a, t: f"only its funder {short(to_checksum_address(a[1]))} may add to this intent"),
    selector("IntentNotOpen(bytes32)"): (
        ["bytes32"], lambda a, t: "the intent is not open on chain: never funded, or already released or refunded"),
    selector("IntentUnderfunded(bytes32,uint256,uint256)"): (
        ["bytes32", "uint256", "uint256"], lambda a, t: f"the intent holds {a[1]} of the {a[2]} base units it pays"),
    selector("IntentExpired(bytes32,uint64)"): (
        ["bytes32", "uint64"], lambda a, t: f"the intent expired at {_when(a[1])}: it can only go back to its funder"),
    selector("IntentNotExpired(bytes32,uint64)"): (
        ["bytes32", "uint64"], lambda a, t: f"the intent does not expire before {_when(a[1])}"),
    selector("InsufficientBalance(address,uint256,uint256)"): (["address", "uint256", "uint256"], _insufficient),
    selector("ExecutorAllowanceExceeded(address,uint256,uint256,uint256)"): (
        ["address", "uint256", "uint256", "uint256"], _allowance_exceeded),
    selector("InvalidAllowance(uint256,uint256)"): (
        ["uint256", "uint256"],
        lambda a, t: "an allowance needs a period of at least one second, and an amount below 2**128 base units",
    ),
    selector("TransferFailed(bytes32)"): (
        ["bytes32"],
        lambda a, t: "the recipient refused the transfer (a contract that rejects payments, "
        "or a token that refused to move)",
    ),
    selector("ZeroAmount()"): ([], lambda a, t: "the amount must be greater than zero"),
    selector("BadBatch()"): (
        [], lambda a, t: "the batch transaction was malformed (its lists differ in length, or a token is listed twice)"),
    selector("ZeroRecipient()"): ([], lambda a, t: "the recipient is the zero address, which would burn the funds"),
    selector("ZeroExecutor()"): ([], lambda a, t: "the executor cannot be the zero address"),
    selector("NotAMixerPool(address,address)"): (
        ["address", "address"],
        lambda a, t: f"{short(to_checksum_address(a[1]))} is not a mixer pool the treasury may deposit into "
        "(the owner allow-lists pools of the native coin)",
    ),
    # A mixer pool's own refusals, which executeMixerDeposit passes on.
    selector("CommitmentExists()"): ([], lambda a, t: "this note's commitment is already in the pool"),
    selector("WrongValue(uint256,uint256)"): (
        ["uint256", "uint256"], lambda a, t: f"the pool takes exactly {a[0]} base units, not {a[1]}"),
    selector("OwnableUnauthorizedAccount(address)"): (
        ["address"],
        lambda a, t: f"only the contract owner may do this, and {short(to_checksum_address(a[0]))} is not it",
    ),
    selector("ReentrancyGuardReentrantCall()"): ([], lambda a, t: "the contract refused a re-entrant call"),
    selector("SafeERC20FailedOperation(address)"): (
        ["address"],
        lambda a, t: f"the token {short(to_checksum_address(a[0]))} refused the transfer",
    ),
    selector("ERC20InsufficientAllowance(address,uint256,uint256)"): (
        ["address", "uint256", "uint256"],
        lambda a, t: f"the token allowance is {a[1]} base units but {a[2]} are needed; approve the contract first",
    ),
    selector("ERC20InsufficientBalance(address,uint256,uint256)"): (
        ["address", "uint256", "uint256"],
        lambda a, t: f"the sender holds {a[1]} base units of the token but {a[2]} are needed",
    ),
    selector("Error(string)"): (["string"], lambda a, t: f"the contract refused: {a[0]}"),
    selector("Panic(uint256)"): (["uint256"], lambda a, t: f"the contract failed with panic code {a[0]:#x}"),
}


def revert_sentence(data: bytes, tokens: TokenRegistry) -> str:
    """A plain sentence for revert data (a custom error, Error(string) or Panic(uint256))."""
    if not data:
        return "the transaction was reverted without a reason (it may have run out of gas)"
    entry = _ERRORS.get(bytes(data[:4]))
    if entry is None:
        return f"the contract refused with an unknown error 0x{bytes(data[:4]).hex()}"
    types, build = entry
    try:
        args = abi_decode(types, bytes(data[4:])) if types else ()
    except Exception:  # malformed error payload: still say which error it was
        return f"the contract refused with a malformed error 0x{bytes(data[:4]).hex()}"
    return build(args, tokens)


def error_name(data: bytes) -> str | None:
    """The custom error's name for revert data, for tests and logs."""
    for sig in (
        "IntentAlreadyExecuted(bytes32)", "AuthorizationExpired(uint256)", "InvalidSignature()",
        "InsufficientBalance(address,uint256,uint256)", "TransferFailed(bytes32)", "ZeroAmount()",
        "ZeroRecipient()", "ZeroExecutor()", "NotAMixerPool(address,address)", "OwnableUnauthorizedAccount(address)",
        "NotExecutor()", "ExecutorIsOwner()", "FeeOnTransferRefused(address)", "OwnableInvalidOwner(address)",
        "ZeroToken()", "ExpiryNotInFuture(uint64)", "NotFunder(bytes32,address)", "IntentNotOpen(bytes32)",
        "IntentUnderfunded(bytes32,uint256,uint256)", "IntentExpired(bytes32,uint64)", "IntentNotExpired(bytes32,uint64)",
        "ExecutorAllowanceExceeded(address,uint256,uint256,uint256)", "InvalidAllowance(uint256,uint256)",
        "BadBatch()", "Error(string)",
        "Panic(uint256)", "SafeERC20FailedOperation(address)", "ERC20InsufficientAllowance(address,uint256,uint256)",
    ):
        if bytes(data[:4]) == selector(sig):
            return sig.split("(")[0]
    return None
