"""Merkle tree over record hashes, hashed as in RFC 6962 / RFC 9162.

Leaves are ``SHA-256(0x00 || record_hash)`` (the 32 raw bytes of a record's chain hash),
interior nodes ``SHA-256(0x01 || left || right)``, and the tree of ``n`` leaves splits at
the largest power of two below ``n``. A signed checkpoint carries the root, so a single
record can be proven part of the signed log with ``log2(n)`` hashes, without the rest of
the log. :class:`Frontier` keeps the roots of the perfect subtrees (the "compact range")
so appending costs amortised one hash and the root is available at any time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(record_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(record_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


@dataclass
class Frontier:
    """Roots of the perfect subtrees covering leaves ``[0, size)``, largest first."""

    size: int = 0
    nodes: list[tuple[int, bytes]] = field(default_factory=list)  # (height, hash)

    def append(self, record_hash_hex: str) -> None:
        self.nodes.append((0, leaf_hash(record_hash_hex)))
        self.size += 1
        while len(self.nodes) >= 2 and self.nodes[-1][0] == self.nodes[-2][0]:
            height, right = self.nodes.pop()
            _, left = self.nodes.pop()
            self.nodes.append((height + 1, node_hash(left, right)))

    def root(self) -> str:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            acc = node_hash(left, acc)
        return acc.hex()

    def to_json(self) -> list[list[int | str]]:
        return [[h, n.hex()] for h, n in self.nodes]

    @classmethod
    def from_json(cls, size: int, data: Sequence[Sequence[int | str]]) -> Frontier:
        nodes = [(int(h), bytes.fromhex(str(n))) for h, n in data]
        if sum(1 << h for h, _ in nodes) != size:
            raise ValueError("frontier does not cover its size")
        return cls(size, nodes)


def _largest_power_below(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over precomputed leaf hashes."""
    if not leaves:
        return bytes.fromhex(EMPTY_ROOT)
    if len(leaves) == 1:
        return leaves[0]
    k = _largest_power_below(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 section 2.1.1 for the leaf at ``index``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf index `{index}` outside a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _largest_power_below(len(leaves))
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root_of(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root_of(leaves[:k])]


def root_from_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf and its audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index `{index}` outside a tree of {size}")
    fn, sn = index, size - 1
    acc = leaf
    for sibling in proof:
        if sn == 0:
            raise ValueError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            acc = node_hash(acc, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion proof is too short")
    return acc
