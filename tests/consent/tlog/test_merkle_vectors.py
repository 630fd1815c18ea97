"""Known-answer tests for RFC 9162 §2.1 hashing and proofs.

The leaves, roots and proofs are the RFC 6962 reference vectors as published in
transparency-dev/merkle ``proof/verify_test.go`` (``leaves``, ``roots``,
``inclusionProofs``, ``consistencyProofs``; their leaf indexes there are 1-based), also
used by certificate-transparency-go. RFC 9162 §2.1 computes the same tree hash as RFC
6962 §2.1 for SHA-256.
"""

from __future__ import annotations

from hashlib import sha256

import pytest

from consent.tlog import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
EMPTY_TREE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# (0-based leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (0, 1, []),
]

# (size1, size2, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]

LEAF_HASHES = merkle.leaf_hashes(LEAVES)
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_empty_tree_hash_is_sha256_of_the_empty_string():
    assert merkle.root([]).hex() == EMPTY_TREE == sha256(b"").hexdigest()


def test_leaf_and_node_hashes_use_the_rfc_domain_separation_prefixes():
    assert merkle.leaf_hash(b"x") == sha256(b"\x00x").digest()
    assert (
        merkle.node_hash(b"l" * 32, b"r" * 32) == sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_the_first_leaves_matches_the_reference_root(size):
    assert merkle.root(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proof_matches_the_reference_audit_path(index, size, path):
    assert merkle.inclusion_proof(index, LEAF_HASHES[:size]) == path


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_reference_audit_path_verifies(index, size, path):
    assert merkle.verify_inclusion(index, size, LEAF_HASHES[index], path, ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proof_matches_the_reference_proof(size1, size2, proof):
    assert merkle.consistency_proof(size1, size2, LEAF_HASHES[:size2]) == proof


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_reference_consistency_proof_verifies(size1, size2, proof):
    assert merkle.verify_consistency(size1, size2, ROOTS[size1 - 1], ROOTS[size2 - 1], proof)


def _inclusion_probes(index, size, path, root, leaf):
    """transparency-dev's ``corruptInclusionProof``: every probe must fail."""
    probes = [
        (index - 1, size, leaf, path, root),
        (index + 1, size, leaf, path, root),
        (index ^ 2, size, leaf, path, root),
        (index, size * 2, leaf, path, root),
        (index, size // 2, leaf, path, root),
        (index, size, b"WrongLeaf", path, root),
        (index, size, leaf, path, bytes.fromhex(EMPTY_TREE)),
        (index, size, leaf, path, SOME_HASH),
        (index, size, leaf, [*path, b""], root),
        (index, size, leaf, [*path, root], root),
        (index, size, leaf, [b"", *path], root),
        (index, size, leaf, [root, *path], root),
    ]
    for i in range(len(path)):
        wrong = list(path)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, leaf, wrong, root))
    if path:
        probes.append((index, size, leaf, path[:-1], root))
    if len(path) > 1:
        probes.append((index, size, leaf, [path[0], SOME_HASH, *path[1:]], root))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[:4])
def test_corrupted_reference_inclusion_proofs_fail(index, size, path):
    leaf, root = LEAF_HASHES[index], ROOTS[size - 1]
    for probe in _inclusion_probes(index, size, path, root, leaf):
        assert not merkle.verify_inclusion(*probe), probe


def _consistency_probes(size1, size2, root1, root2, proof):
    """transparency-dev's ``corruptConsistencyProof``: every probe must fail."""
    probes = [
        (size1 - 1, size2, root1, root2, proof),
        (size1 + 1, size2, root1, root2, proof),
        (size1 ^ 2, size2, root1, root2, proof),
        (size1, size2 * 2, root1, root2, proof),
        (size1, size2 // 2, root1, root2, proof),
        (size1, size2, b"WrongRoot", root2, proof),
        (size1, size2, root1, b"WrongRoot", proof),
        (size1, size2, root2, root1, proof),
        (size1, size2, root1, root2, []),
        (size1, size2, root1, root2, [*proof, b""]),
        (size1, size2, root1, root2, [*proof, root1]),
        (size1, size2, root1, root2, [*proof, root2]),
        (size1, size2, root1, root2, [b"", *proof]),
        (size1, size2, root1, root2, [root1, *proof]),
        (size1, size2, root1, root2, [root2, *proof]),
        (size1, size2, root1, root2, [proof[0], *proof]),
        (size1, size2, root1, root2, proof[:-1]),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((size1, size2, root1, root2, wrong))
    return probes


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY[1:])
def test_corrupted_reference_consistency_proofs_fail(size1, size2, proof):
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    for probe in _consistency_probes(size1, size2, root1, root2, proof):
        assert not merkle.verify_consistency(*probe), probe


# transparency-dev's TestVerifyConsistency edge cases: (size1, size2, root1, root2,
# proof, verifies).
_R1, _R2 = sha256(b"don't care 1").digest(), sha256(b"don't care 2").digest()
_EMPTY = bytes.fromhex(EMPTY_TREE)
EDGE_CASES = [
    (0, 0, _R1, _R2, [], False),
    (1, 1, _R1, _R2, [], False),
    (0, 0, _R1, _R1, [], True),
    (0, 1, _R1, _R2, [], True),
    (1, 1, _R2, _R2, [], True),
    (1, 0, _R1, _R2, [], False),
    (2, 1, _R1, _R2, [], False),
    (1, 2, _R1, _R2, [], False),
    (0, 0, _EMPTY, _R2, [], False),
    (1, 1, _EMPTY, _R2, [], False),
    (0, 0, _EMPTY, _EMPTY, [_EMPTY], False),
    (0, 1, _EMPTY, _EMPTY, [_EMPTY], False),
    (1, 1, _EMPTY, _EMPTY, [_EMPTY], False),
]


@pytest.mark.parametrize(("size1", "size2", "root1", "root2", "proof", "ok"), EDGE_CASES)
def test_consistency_edge_cases_follow_transparency_dev(size1, size2, root1, root2, proof, ok):
    assert merkle.verify_consistency(size1, size2, root1, root2, proof) is ok


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_with_empty_proof_and_mismatched_hashes_fails(index, size):
    assert not merkle.verify_inclusion(index, size, SOME_HASH, [], _EMPTY)


def test_single_leaf_tree_root_is_its_leaf_hash_and_proof_is_empty():
    leaf = merkle.leaf_hash(b"data")
    assert merkle.root([leaf]) == leaf
    assert merkle.verify_inclusion(0, 1, leaf, [], leaf)
    assert not merkle.verify_inclusion(0, 1, b"", [], leaf)
    assert not merkle.verify_inclusion(0, 1, leaf, [], b"")


def test_proofs_outside_the_tree_are_refused():
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(8, LEAF_HASHES)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(5, 9, LEAF_HASHES)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(6, 5, LEAF_HASHES)
