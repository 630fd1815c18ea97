"""Stored node hashes of an RFC 9162 §2.1 tree, addressed as in Go's
``golang.org/x/mod/sumdb/tlog`` (``StoredHashIndex``: Crosby and Wallach's layout, one
dense append-only sequence), and the roots and proofs computed from them with O(log n)
reads through a ``HashStore``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from consent.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    ProofError,
    _largest_power_of_two_below,
    node_hash,
)


def stored_hash_index(level: int, n: int) -> int:
    """Where the hash of node ``n`` at ``level`` (the subtree of leaves
    [n·2^level, (n+1)·2^level)) is stored in a dense, append-only sequence: Go's
    ``tlog.StoredHashIndex``. Every node of RFC 9162 §2.1.1's tree that is the root of
    a complete subtree gets one index, assigned when its last leaf is appended."""
    if level < 0 or n < 0:
        raise ProofError(f"no stored hash for level {level}, node {n}")
    # Level L's n'th hash is written right after level L+1's (2n+1)'th hash.
    n = ((n + 1) << level) - 1
    # Level 0's n'th hash is written at n + n/2 + n/4 + ...
    index = 0
    while n > 0:
        index += n
        n >>= 1
    return index + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    """The inverse of ``stored_hash_index``: ``(level, n)`` (Go's
    ``tlog.SplitStoredHashIndex``)."""
    if index < 0:
        raise ProofError(f"no stored hash at index {index}")
    n = index // 2
    index_n = stored_hash_index(0, n)
    while True:
        # Leaf n stores its own hash plus one per subtree it completes (the trailing
        # one bits of n), so leaf n + 1's hashes start that much further on.
        following = index_n + 1 + _trailing_zeros(n + 1)
        if following > index:
            break
        n += 1
        index_n = following
    level = index - index_n
    return level, n >> level


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def stored_hash_count(size: int) -> int:
    """How many hashes a tree of ``size`` leaves has stored (Go's
    ``tlog.StoredHashCount``); also the stored index at which leaf ``size``'s hashes
    will start."""
    if size < 0:
        raise ProofError(f"negative tree size {size}")
    return stored_hash_index(0, size) if size else 0


class HashStore(Protocol):
    """Read access to stored hashes by ``stored_hash_index`` (Go's
    ``tlog.HashReader``). ``read_hashes`` returns one 32-byte hash per index, in the
    order asked; callers here always ask in increasing order, so a store backed by a
    table can answer with one ``WHERE index = ANY(...)`` query."""

    def read_hashes(self, indexes: Sequence[int]) -> Sequence[bytes]: ...


class MemoryHashStore:
    """A ``HashStore`` in a list, for tests and for rebuilding a tree in memory."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        try:
            return [self.hashes[i] for i in indexes]
        except IndexError as exc:
            raise ProofError("the store does not hold every hash asked for") from exc

    def write_hashes(self, start: int, hashes: Sequence[bytes]) -> None:
        """Append ``hashes`` at ``start``, which must be the current end (append-only)."""
        if start != len(self.hashes):
            raise ProofError(f"append at {start}, but the store ends at {len(self.hashes)}")
        self.hashes.extend(hashes)


def _read(store: HashStore, indexes: list[int]) -> list[bytes]:
    if not indexes:
        return []
    hashes = list(store.read_hashes(indexes))
    if len(hashes) != len(indexes) or any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError(f"the store returned {len(hashes)} hashes for {len(indexes)} indexes")
    return hashes


def stored_hashes_for_leaf(n: int, leaf: bytes, store: HashStore) -> list[bytes]:
    """The hashes to store when appending leaf ``n`` with leaf hash ``leaf``: the leaf
    hash, then one node hash per complete subtree the leaf closes (Go's
    ``tlog.StoredHashesForRecordHash``). They go at ``stored_hash_index(0, n)``
    onwards. Reads at most log2(n) earlier hashes."""
    if n < 0:
        raise ProofError(f"negative leaf index {n}")
    closes = _trailing_zeros(n + 1)
    # Ascending order: the left sibling at level i is node (n >> i) - 1, and higher
    # levels' siblings were stored earlier.
    indexes = [stored_hash_index(i, (n >> i) - 1) for i in reversed(range(closes))]
    siblings = _read(store, indexes)
    hashes = [leaf]
    h = leaf
    for i in range(closes):
        h = node_hash(siblings[closes - 1 - i], h)
        hashes.append(h)
    return hashes


def _subtree_indexes(lo: int, hi: int, need: list[int]) -> list[int]:
    """Stored indexes of the complete subtrees that make up leaves [lo, hi)."""
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        k = 1 << level
        if lo & (k - 1):
            raise ProofError(f"bad subtree bounds [{lo}, {hi})")
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _subtree_hash(lo: int, hi: int, hashes: list[bytes]) -> tuple[bytes, list[bytes]]:
    """RFC 9162 §2.1.1's MTH of leaves [lo, hi) from the hashes of its complete
    subtrees (as listed by ``_subtree_indexes``); returns the leftover hashes."""
    count = 0
    while lo < hi:
        lo += 1 << ((hi - lo).bit_length() - 1)
        count += 1
    if len(hashes) < count:
        raise ProofError("too few hashes for the subtree")
    h = hashes[count - 1]
    for i in range(count - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[count:]


def root_from_store(size: int, store: HashStore) -> bytes:
    """RFC 9162 §2.1.1's MTH of the first ``size`` leaves, from at most 1 + log2(size)
    stored hashes (Go's ``tlog.TreeHash``, except that the empty tree's hash is the
    RFC's SHA-256 of the empty string, not zeroes)."""
    if size < 0:
        raise ProofError(f"negative tree size {size}")
    if size == 0:
        return EMPTY_ROOT
    hashes = _read(store, _subtree_indexes(0, size, []))
    h, rest = _subtree_hash(0, size, hashes)
    if rest:
        raise ProofError("bad index math in root_from_store")
    return h


def inclusion_proof_from_store(index: int, size: int, store: HashStore) -> list[bytes]:
    """RFC 9162 §2.1.3.1's ``PATH(index, D[size])`` from O(log size) stored hashes
    (Go's ``tlog.ProveRecord``)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    hashes = _read(store, _leaf_proof_indexes(0, size, index, []))
    proof, rest = _leaf_proof(0, size, index, hashes)
    if rest:
        raise ProofError("bad index math in inclusion_proof_from_store")
    return proof


def _leaf_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if lo + 1 == hi:
        return need
    k = _largest_power_of_two_below(hi - lo)
    if n < lo + k:
        _leaf_proof_indexes(lo, lo + k, n, need)
        _subtree_indexes(lo + k, hi, need)
    else:
        _subtree_indexes(lo, lo + k, need)
        _leaf_proof_indexes(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if lo + 1 == hi:
        return [], hashes
    k = _largest_power_of_two_below(hi - lo)
    if n < lo + k:
        proof, hashes = _leaf_proof(lo, lo + k, n, hashes)
        sibling, hashes = _subtree_hash(lo + k, hi, hashes)
    else:
        sibling, hashes = _subtree_hash(lo, lo + k, hashes)
        proof, hashes = _leaf_proof(lo + k, hi, n, hashes)
    proof.append(sibling)
    return proof, hashes


def consistency_proof_from_store(size1: int, size2: int, store: HashStore) -> list[bytes]:
    """RFC 9162 §2.1.4.1's ``PROOF(size1, D[size2])`` from O(log size2) stored hashes
    (Go's ``tlog.ProveTree``); empty for size1 == 0 or size1 == size2."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == 0 or size1 == size2:
        return []
    hashes = _read(store, _tree_proof_indexes(0, size2, size1, []))
    proof, rest = _tree_proof(0, size2, size1, hashes)
    if rest:
        raise ProofError("bad index math in consistency_proof_from_store")
    return proof


def _tree_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if n == hi:
        return need if lo == 0 else _subtree_indexes(lo, hi, need)
    k = _largest_power_of_two_below(hi - lo)
    if n <= lo + k:
        _tree_proof_indexes(lo, lo + k, n, need)
        _subtree_indexes(lo + k, hi, need)
    else:
        _subtree_indexes(lo, lo + k, need)
        _tree_proof_indexes(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if n == hi:
        if lo == 0:  # the old tree itself: the verifier has its hash
            return [], hashes
        h, hashes = _subtree_hash(lo, hi, hashes)
        return [h], hashes
    k = _largest_power_of_two_below(hi - lo)
    if n <= lo + k:
        proof, hashes = _tree_proof(lo, lo + k, n, hashes)
        sibling, hashes = _subtree_hash(lo + k, hi, hashes)
    else:
        sibling, hashes = _subtree_hash(lo, lo + k, hashes)
        proof, hashes = _tree_proof(lo + k, hi, n, hashes)
    proof.append(sibling)
    return proof, hashes


def compact_range_from_store(size: int, store: HashStore) -> CompactRange:
    """The ``CompactRange`` after ``size`` leaves, read from a store (the complete
    subtrees of [0, size): at most 1 + log2(size) reads)."""
    if size < 0:
        raise ProofError(f"negative tree size {size}")
    return CompactRange(size, _read(store, _subtree_indexes(0, size, [])))
