"""Which words of Settlement's paid-rows bitmap hold a paid bulk row: a span read in one JSON-RPC batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ChainUnavailable

from .rpc import RpcError
from .settlement import selector
from .wire import as_bytes, as_hex

if TYPE_CHECKING:
    from .client import Web3Chain

PAID_ROWS = selector("paidRows(uint256)")
MOST_WORDS = 4096  # one batch request at most; the core probes far fewer (a batch's span, doubling when behind)


def paid_rows_calldata(word: int) -> bytes:
    return PAID_ROWS + word.to_bytes(32, "big")


async def used_row_words(chain: Web3Chain, first_word: int, last_word: int) -> list[int]:
    """Web3Chain.used_row_words: the words first_word..last_word whose `paidRows(word)` is not zero, ascending.
    One eth_call per word, all in one batch request (eth-tester runs them in turn, in process)."""
    if last_word < first_word:
        return []
    if last_word - first_word >= MOST_WORDS:
        raise ValueError(f"at most {MOST_WORDS} bitmap words are read at once")
    words = range(first_word, last_word + 1)
    reader = {"from": chain.executor}  # eth-tester charges calls gas: read as a funded account
    # `treasury` is the Settlement contract's address (it holds the treasury).
    calls = [("eth_call", [{**reader, "to": chain.treasury, "data": as_hex(paid_rows_calldata(w))}, "latest"])
             for w in words]
    answers = await chain.node.batch(calls)
    used: list[int] = []
    for word, answer in zip(words, answers):
        if isinstance(answer, RpcError):
            # A word unread is not known to be free: refuse rather than hand out ids the contract may skip.
            raise ChainUnavailable(f"the chain node did not read the paid-rows bitmap ({answer.message})")
        if int.from_bytes(as_bytes(answer)[:32] or b"\0", "big"):
            used.append(word)
    return used
