"""The mixer's compiled contracts (Mixer, Groth16Verifier, PoseidonT3) under adapters/mixer/artifacts."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from adapters.chain.artifacts import Artifact

ARTIFACTS_DIR = Path(__file__).with_name("artifacts")


@cache
def load(name: str) -> Artifact:
    """The artifact contracts/mixer/compile.js wrote for `name`, in adapters.chain's Artifact shape."""
    data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return Artifact(data["contractName"], data["abi"], bytes.fromhex(data["bytecode"].removeprefix("0x")))
