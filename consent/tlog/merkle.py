"""Merkle Tree Hash, inclusion and consistency proofs of RFC 9162 §2.1 (SHA-256).

- the RFC's definitions over a list of leaf hashes (``root``, ``inclusion_proof``,
  ``consistency_proof``) and its verification algorithms, which take only hashes
  (``verify_inclusion``, ``verify_consistency``);
- ``CompactRange``: the O(log n) right edge of an append-only tree, so a sealer can
  append leaves in batches and get the new root without reading the tree.

Proofs from stored node hashes (O(log n) reads) are in ``consent.tlog.stored``.
Hashes are 32-byte ``bytes``. Indexes and sizes are ``int`` (0-based leaf indexes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

#: RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = sha256(b"").digest()


class ProofError(ValueError):
    """A proof or a tree cannot be computed from the given sizes, indexes or store."""


# --- RFC 9162 §2.1.1: the Merkle Tree Hash -------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``MTH({d(0)}) = SHA-256(0x00 || d(0))``."""
    return sha256(_LEAF_PREFIX + data).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """``leaf_hash`` of every entry, in order (RFC 9162 §2.1.1), without a Python
    call per entry."""
    prefix = _LEAF_PREFIX
    return [sha256(prefix + data).digest() for data in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))``."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """RFC 9162 §2.1.1's k: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle Tree Hash of the leaves whose leaf hashes are
    ``hashes`` (already ``leaf_hash``-ed).

    The RFC splits at k, the largest power of two below n, so the left subtree is
    always complete. That tree is the one built level by level by hashing adjacent
    pairs from the left and carrying an odd last node up unchanged; computing it that
    way lets each level be one list comprehension over C-level hashing instead of a
    Python call per node (about 1-2 million leaves a second on one core)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    prefix = _NODE_PREFIX
    while len(level) > 1:
        paired = len(level) & ~1
        upper = [
            sha256(prefix + left + right).digest()
            for left, right in zip(level[0:paired:2], level[1:paired:2], strict=True)
        ]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


# --- RFC 9162 §2.1.3: inclusion proofs -------------------------------------------------


def inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1: ``PATH(m, D[n])``, the audit path of leaf ``index`` in the
    tree of the leaf hashes ``hashes``, ordered from the leaf up."""
    if not 0 <= index < len(hashes):
        raise ProofError(f"leaf index {index} is outside a tree of size {len(hashes)}")
    return _path(index, hashes)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*_path(m, d[:k]), root(d[k:])]
    return [*_path(m - k, d[k:]), root(d[:k])]


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: whether ``proof`` shows that the leaf hash ``leaf`` is leaf
    number ``index`` of the tree of ``size`` leaves whose root is ``root_hash``.

    Uses only the hashes given; a proof with a hash of the wrong length, one hash too
    many or too few fails."""
    if not 0 <= index < size:  # step 1
        return False
    if len(leaf) != HASH_SIZE or len(root_hash) != HASH_SIZE:
        return False
    if any(len(p) != HASH_SIZE for p in proof):
        return False
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            return False
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root_hash  # step 5


# --- RFC 9162 §2.1.4: consistency proofs -----------------------------------------------


def consistency_proof(size1: int, size2: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.4.1: ``PROOF(m, D[n])`` between the tree of the first ``size1``
    leaves and the tree of the first ``size2`` leaves of ``hashes``.

    The RFC defines it for 0 < m < n; for m == n, and for m == 0 (every tree extends
    the empty tree), the proof is empty, as ``verify_consistency`` expects."""
    if not 0 <= size1 <= size2 <= len(hashes):
        raise ProofError(
            f"no consistency proof from size {size1} to size {size2} "
            f"in a tree of {len(hashes)} leaves"
        )
    if size1 == 0 or size1 == size2:
        return []
    return _subproof(size1, hashes[:size2], True)


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [root(d)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*_subproof(m, d[:k], b), root(d[k:])]
    return [*_subproof(m - k, d[k:], False), root(d[:k])]


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: whether ``proof`` shows that the tree of ``size1`` leaves
    with root ``root1`` is a prefix of the tree of ``size2`` leaves with root
    ``root2``.

    The RFC's algorithm covers 0 < size1 < size2. Outside it (as transparency-dev's
    ``proof.VerifyConsistency``): equal sizes need an empty proof and equal roots; a
    first size of 0 needs an empty proof; a first size above the second fails."""
    if not 0 <= size1 <= size2:
        return False
    if len(root1) != HASH_SIZE or len(root2) != HASH_SIZE:
        return False
    if any(len(c) != HASH_SIZE for c in proof):
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    path = list(proof)
    if not path:  # step 1
        return False
    if size1 & (size1 - 1) == 0:  # step 2: size1 is an exact power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0  # step 7


# --- The append-only tree state ---------------------------------------------------------


class CompactRange:
    """The right edge of an append-only RFC 9162 tree: the roots of the complete
    subtrees that make up leaves [0, size), largest (leftmost) first — one per set bit
    of ``size``, so at most log2(size) + 1 hashes (the compact range [0, size) of
    transparency-dev's ``merkle/compact``).

    Appending a leaf merges it with the edge like a binary counter; every merge is a
    node that ``stored.stored_hash_index`` addresses, so ``append`` returns exactly the
    hashes Go's ``StoredHashes`` would store for that leaf, without reading them
    (``stored.compact_range_from_store`` resumes from a store)."""

    __slots__ = ("_edge", "_size")

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        if size < 0 or len(edge) != size.bit_count():
            raise ProofError(f"a tree of size {size} has {size.bit_count()} edge hashes")
        if any(len(h) != HASH_SIZE for h in edge):
            raise ProofError("edge hashes must be 32 bytes")
        self._size = size
        self._edge = list(edge)

    @property
    def size(self) -> int:
        return self._size

    @property
    def edge(self) -> tuple[bytes, ...]:
        """The complete subtrees' roots, leftmost first (what to persist to resume)."""
        return tuple(self._edge)

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._edge)

    def append(self, leaf: bytes) -> list[bytes]:
        """Append one leaf hash; return the hashes to store from
        ``stored.stored_hash_index(0, old size)`` on (the leaf hash, then every subtree it
        completed)."""
        if len(leaf) != HASH_SIZE:
            raise ProofError("leaf hashes must be 32 bytes")
        stored = [leaf]
        h = leaf
        n = self._size
        edge = self._edge
        while n & 1:
            h = node_hash(edge.pop(), h)
            stored.append(h)
            n >>= 1
        edge.append(h)
        self._size += 1
        return stored

    def extend(self, leaves: Iterable[bytes]) -> list[bytes]:
        """Append many leaf hashes; return every hash to store, contiguous from
        ``stored.stored_hash_count(old size)``."""
        stored: list[bytes] = []
        for leaf in leaves:
            stored.extend(self.append(leaf))
        return stored

    def append_subtree(self, subtree_root: bytes, height: int) -> None:
        """Append a complete subtree of 2**height leaves given only its root (for
        example one computed by ``root`` in another process); the current size must
        be a multiple of 2**height, as subtrees of the tree are aligned."""
        if height < 0 or self._size & ((1 << height) - 1):
            raise ProofError(f"a subtree of height {height} cannot start at {self._size}")
        if len(subtree_root) != HASH_SIZE:
            raise ProofError("subtree roots must be 32 bytes")
        h = subtree_root
        n = self._size >> height
        while n & 1:
            h = node_hash(self._edge.pop(), h)
            n >>= 1
        self._edge.append(h)
        self._size += 1 << height

    def root(self) -> bytes:
        """RFC 9162 §2.1.1's MTH of the leaves appended so far."""
        if not self._edge:
            return EMPTY_ROOT
        h = self._edge[-1]
        for left in reversed(self._edge[:-1]):
            h = node_hash(left, h)
        return h
