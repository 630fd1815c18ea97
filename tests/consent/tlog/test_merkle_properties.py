"""Property tests of the RFC 9162 §2.1 proofs over random trees: every honest proof
verifies, and any change to a proof, index or size makes it fail."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consent.tlog import merkle, stored


def _leaves(count: int) -> list[bytes]:
    return [merkle.leaf_hash(b"%d" % i) for i in range(count)]


sizes = st.integers(min_value=1, max_value=150)


@settings(max_examples=60, deadline=None)
@given(size=sizes)
def test_every_inclusion_proof_of_a_random_tree_verifies(size):
    leaves = _leaves(size)
    root = merkle.root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, leaves)
        assert merkle.verify_inclusion(index, size, leaves[index], proof, root)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size=sizes)
def test_a_tampered_inclusion_proof_fails(data, size):
    leaves = _leaves(size)
    root = merkle.root(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(index, leaves)
    if proof:
        which = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        flipped = list(proof)
        flipped[which] = (
            flipped[which][: bit // 8]
            + bytes([flipped[which][bit // 8] ^ (1 << (bit % 8))])
            + flipped[which][bit // 8 + 1 :]
        )
        assert not merkle.verify_inclusion(index, size, leaves[index], flipped, root)
        assert not merkle.verify_inclusion(index, size, leaves[index], proof[:-1], root)
    assert not merkle.verify_inclusion(index, size, leaves[index], [*proof, root], root)
    other = data.draw(st.integers(0, size).filter(lambda i: i != index))
    assert not merkle.verify_inclusion(other, size, leaves[index], proof, root)
    # A checkpoint binds a size to a root: claiming another size means checking
    # against that size's root, which the proof cannot reach. (RFC 9162 §2.1.3.2 alone
    # can accept a path under a different size with the *same* root when the path's
    # shape is identical; the signed (size, root) pair is what rules that out.)
    wrong_size = data.draw(st.integers(index + 1, 2 * size + 2).filter(lambda s: s != size))
    wrong_root = merkle.root(_leaves(wrong_size))
    assert not merkle.verify_inclusion(index, wrong_size, leaves[index], proof, wrong_root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"other"), proof, root)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size2=sizes)
def test_every_consistency_proof_between_random_sizes_verifies(data, size2):
    leaves = _leaves(size2)
    roots = [merkle.root(leaves[:n]) for n in range(size2 + 1)]
    for _ in range(10):
        size1 = data.draw(st.integers(0, size2))
        proof = merkle.consistency_proof(size1, size2, leaves)
        assert merkle.verify_consistency(size1, size2, roots[size1], roots[size2], proof)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), size2=st.integers(min_value=2, max_value=150))
def test_a_tampered_consistency_proof_fails(data, size2):
    leaves = _leaves(size2)
    size1 = data.draw(st.integers(1, size2 - 1))
    root1, root2 = merkle.root(leaves[:size1]), merkle.root(leaves)
    proof = merkle.consistency_proof(size1, size2, leaves)
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = list(proof)
    flipped[which] = (
        flipped[which][: bit // 8]
        + bytes([flipped[which][bit // 8] ^ (1 << (bit % 8))])
        + flipped[which][bit // 8 + 1 :]
    )
    assert not merkle.verify_consistency(size1, size2, root1, root2, flipped)
    assert not merkle.verify_consistency(size1, size2, root1, root2, proof[:-1])
    assert not merkle.verify_consistency(size1, size2, root1, root2, [*proof, root2])
    assert not merkle.verify_consistency(size1, size2, root2, root1, proof)
    other = merkle.root([*leaves[: size1 - 1], merkle.leaf_hash(b"rewritten")])
    assert not merkle.verify_consistency(size1, size2, other, root2, proof)
    wrong1 = data.draw(st.integers(1, size2).filter(lambda s: s != size1))
    assert not merkle.verify_consistency(wrong1, size2, root1, root2, proof)


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(st.integers(min_value=0, max_value=70), max_size=12))
def test_compact_range_root_equals_full_root_after_random_batch_appends(batches):
    state = merkle.CompactRange()
    store = stored.MemoryHashStore()
    leaves = []
    for batch in batches:
        new = [merkle.leaf_hash(b"%d" % (len(leaves) + i)) for i in range(batch)]
        start = stored.stored_hash_count(state.size)
        store.write_hashes(start, state.extend(new))
        leaves.extend(new)
        assert state.size == len(leaves)
        assert len(state.edge) == bin(len(leaves)).count("1")
        assert state.root() == merkle.root(leaves)
        assert stored.root_from_store(len(leaves), store) == state.root()


@settings(max_examples=100, deadline=None)
@given(heights=st.lists(st.integers(min_value=0, max_value=6), max_size=10))
def test_appending_aligned_subtree_roots_equals_appending_their_leaves(heights):
    by_subtree = merkle.CompactRange()
    by_leaf = merkle.CompactRange()
    counter = 0
    for height in sorted(heights, reverse=True):  # descending heights stay aligned
        chunk = [merkle.leaf_hash(b"%d" % (counter + i)) for i in range(1 << height)]
        counter += len(chunk)
        by_subtree.append_subtree(merkle.root(chunk), height)
        by_leaf.extend(chunk)
        assert by_subtree.root() == by_leaf.root()
        assert by_subtree.edge == by_leaf.edge
