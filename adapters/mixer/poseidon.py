"""Poseidon over BN254 exactly as circomlib/circomlibjs compute it (1 or 2 inputs), for the mixer's tree."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617  # BN254 scalar field
_ROUNDS_FULL = 8
_ROUNDS_PARTIAL = {2: 56, 3: 57}  # by state width t = inputs + 1, as circomlib's N_ROUNDS_P
_CONSTANTS = Path(__file__).with_name("poseidon_constants.json")


@cache
def _constants(t: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    data = json.loads(_CONSTANTS.read_text(encoding="utf-8"))
    rc = tuple(int(x, 16) for x in data["C"][str(t)])
    mds = tuple(tuple(int(x, 16) for x in row) for row in data["M"][str(t)])
    return rc, mds


def poseidon(*inputs: int) -> int:
    """circomlib Poseidon(len(inputs)) of field elements; raises ValueError outside the field."""
    t = len(inputs) + 1
    if t not in _ROUNDS_PARTIAL:
        raise ValueError(f"poseidon takes 1 or 2 inputs here, not {len(inputs)}")
    if any(not 0 <= x < FIELD for x in inputs):
        raise ValueError("poseidon inputs must be field elements (0 <= x < BN254 scalar field)")
    rc, mds = _constants(t)
    partial = _ROUNDS_PARTIAL[t]
    half = _ROUNDS_FULL // 2
    state = [0, *inputs]
    for r in range(_ROUNDS_FULL + partial):
        state = [(x + rc[r * t + i]) % FIELD for i, x in enumerate(state)]
        if half <= r < half + partial:
            state[0] = pow(state[0], 5, FIELD)
        else:
            state = [pow(x, 5, FIELD) for x in state]
        state = [sum(m * x for m, x in zip(row, state)) % FIELD for row in mds]
    return state[0]
