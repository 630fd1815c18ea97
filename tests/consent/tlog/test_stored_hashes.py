"""Stored node hashes addressed as in Go's golang.org/x/mod/sumdb/tlog: a port of its
``TestTree`` (records ``"leaf %d"`` for i < 100; hashes from ``StoredHashes`` appended
to one list; every tree hash, record proof and tree proof checked for every prefix) and
``TestSplitStoredHashIndex`` (sumdb/tlog/tlog_test.go)."""

from __future__ import annotations

import pytest

from consent.tlog import merkle, stored


def _build(count):
    store = stored.MemoryHashStore()
    leaves = []
    for i in range(count):
        leaf = merkle.leaf_hash(b"leaf %d" % i)
        hashes = stored.stored_hashes_for_leaf(i, leaf, store)
        store.write_hashes(stored.stored_hash_index(0, i), hashes)
        leaves.append(leaf)
    return store, leaves


STORE, LEAVES = _build(100)


def test_stored_hash_count_matches_what_was_stored_after_every_leaf():
    store = stored.MemoryHashStore()
    for i in range(100):
        leaf = merkle.leaf_hash(b"leaf %d" % i)
        store.write_hashes(len(store.hashes), stored.stored_hashes_for_leaf(i, leaf, store))
        assert stored.stored_hash_count(i + 1) == len(store.hashes)


@pytest.mark.parametrize("level", range(10))
def test_split_stored_hash_index_inverts_stored_hash_index(level):
    for n in range(100):
        index = stored.stored_hash_index(level, n)
        assert stored.split_stored_hash_index(index) == (level, n)


def test_stored_indexes_are_dense_and_in_append_order():
    indexes = sorted(
        stored.stored_hash_index(level, n)
        for level in range(8)
        for n in range(100 >> level)  # the complete subtrees of the first 100 leaves
    )
    assert indexes == list(range(stored.stored_hash_count(100)))


def test_root_from_store_matches_root_for_every_prefix():
    for size in range(101):
        assert stored.root_from_store(size, STORE) == merkle.root(LEAVES[:size])


def test_inclusion_proof_from_store_matches_the_rfc_path_for_every_leaf_of_every_prefix():
    for size in range(1, 101):
        root = merkle.root(LEAVES[:size])
        for index in range(size):
            proof = stored.inclusion_proof_from_store(index, size, STORE)
            assert proof == merkle.inclusion_proof(index, LEAVES[:size])
            assert merkle.verify_inclusion(index, size, LEAVES[index], proof, root)


def test_consistency_proof_from_store_matches_the_rfc_proof_for_every_pair_of_prefixes():
    roots = [merkle.root(LEAVES[:size]) for size in range(101)]
    for size2 in range(1, 101):
        for size1 in range(size2 + 1):
            proof = stored.consistency_proof_from_store(size1, size2, STORE)
            assert proof == merkle.consistency_proof(size1, size2, LEAVES)
            assert merkle.verify_consistency(size1, size2, roots[size1], roots[size2], proof)


class CountingStore:
    def __init__(self, inner):
        self.inner = inner
        self.reads = 0
        self.calls = 0

    def read_hashes(self, indexes):
        assert list(indexes) == sorted(set(indexes)), "indexes must be asked in order"
        self.calls += 1
        self.reads += len(indexes)
        return self.inner.read_hashes(indexes)


def test_proofs_from_store_read_logarithmically_many_hashes_in_one_call():
    store, _ = _build(1000)
    reads = []
    for prove in (
        *(lambda s, i=i: stored.inclusion_proof_from_store(i, 1000, s) for i in (0, 511, 999)),
        lambda s: stored.consistency_proof_from_store(333, 1000, s),
        lambda s: stored.root_from_store(1000, s),
    ):
        counting = CountingStore(store)
        prove(counting)
        assert counting.calls == 1
        reads.append(counting.reads)
    # A proof has at most ceil(log2(1000)) = 10 hashes; a sibling that is not a
    # complete subtree costs a few more reads, never more than 2·log2(n).
    assert max(reads) <= 20


def test_compact_range_from_store_resumes_appending_where_the_store_ends():
    store, leaves = _build(77)
    state = stored.compact_range_from_store(77, store)
    assert state.root() == merkle.root(leaves)
    extra = merkle.leaf_hash(b"leaf 77")
    assert state.append(extra) == stored.stored_hashes_for_leaf(77, extra, store)


def test_store_refuses_a_write_that_is_not_an_append():
    store = stored.MemoryHashStore()
    with pytest.raises(merkle.ProofError):
        store.write_hashes(1, [b"\x00" * 32])


def test_a_store_missing_hashes_makes_proofs_fail_loudly():
    with pytest.raises(merkle.ProofError):
        stored.inclusion_proof_from_store(0, 200, STORE)
