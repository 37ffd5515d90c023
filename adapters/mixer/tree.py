"""The mixer's depth-20 Poseidon Merkle tree, mirrored from the chain's Deposit events for proving paths."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from eth_utils import keccak

from .poseidon import FIELD, poseidon

DEPTH = 20
# The value of an empty leaf; Mixer.sol hard-codes the same number (ZERO_VALUE).
ZERO_VALUE = int.from_bytes(keccak(b"snowrail"), "big") % FIELD


@cache
def zeros(depth: int = DEPTH) -> tuple[int, ...]:
    """zeros[i] is the root of an empty subtree of height i; zeros[depth] is the empty tree's root."""
    out = [ZERO_VALUE]
    for _ in range(depth):
        out.append(poseidon(out[-1], out[-1]))
    return tuple(out)


@dataclass(frozen=True)
class MerklePath:
    leaf_index: int
    root: int
    siblings: tuple[int, ...]
    is_right: tuple[int, ...]  # bit i of leaf_index: 1 when the node at level i is a right child


class CommitmentTree:
    """An append-only tree that keeps every level, so a path costs nothing and an append `depth` hashes."""

    def __init__(self, depth: int = DEPTH, leaves: Iterable[int] = ()) -> None:
        self.depth = depth
        self._zeros = zeros(depth)
        self._levels: list[list[int]] = [[] for _ in range(depth + 1)]
        self._index: dict[int, int] = {}
        self.extend(leaves)

    def __len__(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> int:
        return self._levels[self.depth][0] if len(self) else self._zeros[self.depth]

    def append(self, leaf: int) -> int:
        """Adds a leaf (a commitment) and returns its index."""
        index = len(self)
        if index >= 1 << self.depth:
            raise ValueError("the tree is full")
        self._levels[0].append(leaf)
        self._index.setdefault(leaf, index)
        node, i = leaf, index
        for level in range(self.depth):
            if i % 2:
                node = poseidon(self._levels[level][i - 1], node)
            else:
                node = poseidon(node, self._zeros[level])
            i //= 2
            upper = self._levels[level + 1]
            if i < len(upper):
                upper[i] = node
            else:
                upper.append(node)
        return index

    def extend(self, leaves: Iterable[int]) -> None:
        """Appends many leaves, hashing each changed node once (about 2 hashes a leaf instead of `depth`)."""
        new = list(leaves)
        if not new:
            return
        first = len(self)
        if first + len(new) > 1 << self.depth:
            raise ValueError("the tree is full")
        for offset, leaf in enumerate(new):
            self._index.setdefault(leaf, first + offset)
        self._levels[0].extend(new)
        lo, hi = first, len(self) - 1  # changed range at the current level
        for level in range(self.depth):
            row, upper = self._levels[level], self._levels[level + 1]
            zero = self._zeros[level]
            for parent in range(lo // 2, hi // 2 + 1):
                left = row[2 * parent]
                right = row[2 * parent + 1] if 2 * parent + 1 < len(row) else zero
                node = poseidon(left, right)
                if parent < len(upper):
                    upper[parent] = node
                else:
                    upper.append(node)
            lo, hi = lo // 2, hi // 2

    def index_of(self, commitment: int) -> int | None:
        return self._index.get(commitment)

    def leaf(self, index: int) -> int:
        return self._levels[0][index]

    def path(self, index: int) -> MerklePath:
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} is not in the tree ({len(self)} leaves)")
        siblings, bits = [], []
        i = index
        for level in range(self.depth):
            sibling = i ^ 1
            row = self._levels[level]
            siblings.append(row[sibling] if sibling < len(row) else self._zeros[level])
            bits.append(i & 1)
            i //= 2
        return MerklePath(index, self.root, tuple(siblings), tuple(bits))
