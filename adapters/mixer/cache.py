"""A file cache of a pool's Deposit events (public data only), so a restart need not rescan the chain."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .pool import DepositEvent


class EventCache:
    """`<dir>/<chainId>-<pool>.json`: the events and the last block they cover. Written atomically."""

    def __init__(self, directory: Path, chain_id: int, pool: str) -> None:
        self.path = Path(directory) / f"{chain_id}-{pool.lower()}.json"

    def load(self) -> tuple[list[DepositEvent], int] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            events = [DepositEvent(int(c, 16), i, t, b, h) for c, i, t, b, h in data["events"]]
            return events, int(data["synced_block"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: rebuild from the chain

    def save(self, events: list[DepositEvent], synced_block: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = [[f"0x{e.commitment:064x}", e.leaf_index, e.timestamp, e.block_number, e.tx_hash] for e in events]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"synced_block": synced_block, "events": rows}), encoding="utf-8")
        os.replace(tmp, self.path)
