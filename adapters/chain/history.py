"""Looking back on chain: where a contract was deployed, and which transaction emitted an event."""

from __future__ import annotations

from collections.abc import Collection

from .rpc import Node, RpcError

# eth_getLogs windows when a node refuses one query over the whole history (public nodes cap the range).
LOG_WINDOW = 10_000
MIN_LOG_WINDOW = 500


async def deployment_block(node: Node, address: str, latest: int) -> int:
    """The first block at which `address` holds code (binary search on eth_getCode); 0 if the node cannot
    answer for old blocks (a pruned node), which only makes later searches longer."""
    low, high = 0, latest
    try:
        while low < high:
            mid = (low + high) // 2
            if await node.code(address, mid):
                high = mid
            else:
                low = mid + 1
    except RpcError:
        return 0
    return low


async def last_log_tx(node: Node, address: str, topics: list[bytes | None], start: int, latest: int) -> str | None:
    """The hash of the newest transaction in which `address` emitted a log matching `topics` between blocks
    `start` and `latest`, or None. One query first; if the node refuses the range, newest windows first
    (what is looked for is usually recent), halving the window while the node keeps refusing."""
    try:
        found = await node.logs(address, topics, start, latest)
        return found[-1]["tx_hash"] if found else None
    except RpcError:
        pass
    window, high = LOG_WINDOW, latest
    while high >= start:
        low = max(start, high - window + 1)
        try:
            found = await node.logs(address, topics, low, high)
        except RpcError:
            if window <= MIN_LOG_WINDOW:
                raise
            window //= 2
            continue
        if found:
            return found[-1]["tx_hash"]
        high = low - 1
    return None


async def all_logs(node: Node, address: str, topics: list[bytes | None], start: int, latest: int) -> list[dict]:
    """Every log of `address` matching `topics` between blocks `start` and `latest`, oldest first. One query
    first; if the node refuses the range, oldest windows first, halving the window while it keeps refusing."""
    try:
        return await node.logs(address, topics, start, latest)
    except RpcError:
        pass
    found: list[dict] = []
    window, low = LOG_WINDOW, start
    while low <= latest:
        high = min(latest, low + window - 1)
        try:
            found.extend(await node.logs(address, topics, low, high))
        except RpcError:
            if window <= MIN_LOG_WINDOW:
                raise
            window //= 2
            continue
        low = high + 1
    return found


async def bits_set_by(node: Node, address: str, event: bytes, ids: Collection[int], start: int, latest: int
                      ) -> dict[int, str]:
    """For each of `ids` (a bit of a bitmap: word `id >> 8`, bit `id & 255`) that an `event(uint256 indexed word,
    uint256 bits)` of `address` set, the hash of the transaction that emitted it. A bit is set once, so the
    first such log is the one."""
    found: dict[int, str] = {}
    for word in sorted({i >> 8 for i in ids}):
        wanted = [i for i in ids if i >> 8 == word]
        for entry in await all_logs(node, address, [event, word.to_bytes(32, "big")], start, latest):
            bits = int.from_bytes(entry["data"][:32], "big")
            for i in wanted:
                if bits >> (i & 255) & 1:
                    found.setdefault(i, entry["tx_hash"])
    return found
