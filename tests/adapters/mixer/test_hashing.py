"""Poseidon agrees in Python, circomlibjs and the on-chain hasher; the tree and its paths are sound."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from adapters.mixer.poseidon import FIELD, poseidon
from adapters.mixer.tree import DEPTH, ZERO_VALUE, CommitmentTree, zeros

REPO = Path(__file__).resolve().parents[3]
REFERENCE_1_2 = 7853200120776062878684798364095072458815029376092732009249414926327459813530

_rng = random.Random(20261126)
PAIRS = [(0, 0), (1, 2), (2, 1), (FIELD - 1, FIELD - 1), (ZERO_VALUE, ZERO_VALUE)] + [
    (_rng.randrange(FIELD), _rng.randrange(FIELD)) for _ in range(5)
]
SINGLES = [0, 1, FIELD - 1, _rng.randrange(FIELD)]


def circomlibjs(pairs: list[tuple[int, int]], singles: list[int]) -> tuple[list[int], list[int]]:
    script = """
const { buildPoseidon } = require("circomlibjs");
(async () => {
  const { pairs, singles } = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const h = await buildPoseidon();
  const s = (xs) => h.F.toString(h(xs.map(BigInt)));
  console.log(JSON.stringify({ pairs: pairs.map(s), singles: singles.map((x) => s([x])) }));
  process.exit(0);
})();
"""
    payload = json.dumps({"pairs": [[str(a), str(b)] for a, b in pairs], "singles": [str(x) for x in singles]})
    out = subprocess.run(["node", "-e", script], input=payload, capture_output=True, text=True, cwd=REPO,
                         timeout=60, check=True)
    data = json.loads(out.stdout)
    return [int(x) for x in data["pairs"]], [int(x) for x in data["singles"]]


def test_reference_value():
    assert poseidon(1, 2) == REFERENCE_1_2


def test_python_matches_circomlibjs():
    pairs, singles = circomlibjs(PAIRS, SINGLES)
    assert pairs == [poseidon(a, b) for a, b in PAIRS]
    assert singles == [poseidon(x) for x in SINGLES]


def test_inputs_outside_the_field_are_refused():
    with pytest.raises(ValueError):
        poseidon(FIELD, 0)
    with pytest.raises(ValueError):
        poseidon(1, 2, 3)


@pytest.mark.anvil
async def test_python_matches_the_onchain_hasher(mixer_stack):
    pool = mixer_stack.relayer
    for a, b in PAIRS:
        assert await pool.hash_left_right(a, b) == poseidon(a, b)


def test_paths_rebuild_the_root():
    tree = CommitmentTree(leaves=[poseidon(i, i + 1) for i in range(7)])
    for index in range(7):
        path = tree.path(index)
        node = tree.leaf(index)
        for sibling, right in zip(path.siblings, path.is_right):
            node = poseidon(sibling, node) if right else poseidon(node, sibling)
        assert node == tree.root == path.root
        assert sum(bit << i for i, bit in enumerate(path.is_right)) == index


def test_empty_tree_root_and_incremental_equals_batch():
    assert CommitmentTree().root == zeros()[DEPTH]
    leaves = [poseidon(i, 7) for i in range(5)]
    one_by_one = CommitmentTree()
    roots = []
    for leaf in leaves:
        one_by_one.append(leaf)
        roots.append(one_by_one.root)
    assert CommitmentTree(leaves=leaves).root == roots[-1]
    assert len(set(roots)) == 5


def test_bulk_extend_equals_one_by_one():
    one = CommitmentTree()
    for i in range(1, 40):
        one.append(poseidon(i))
    bulk = CommitmentTree(leaves=[poseidon(i) for i in range(1, 18)])
    bulk.extend(poseidon(i) for i in range(18, 40))
    assert bulk.root == one.root
    assert all(bulk.path(i) == one.path(i) for i in range(39))
