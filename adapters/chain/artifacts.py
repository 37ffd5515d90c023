"""The compiled contracts committed under adapters/chain/artifacts, loaded once and cached."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ARTIFACTS_DIR = Path(__file__).with_name("artifacts")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict]
    bytecode: bytes


@cache
def load(name: str) -> Artifact:
    """The artifact `contracts/compile.js` wrote for contract `name` (e.g. "Settlement")."""
    data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return Artifact(data["contractName"], data["abi"], bytes.fromhex(data["bytecode"].removeprefix("0x")))
