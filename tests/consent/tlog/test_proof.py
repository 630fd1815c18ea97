"""C2SP tlog-proof files (c2sp.org/tlog-proof@v1): made from a sealed tree, verified
offline with only the log's origin and keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.tlog import checkpoint, merkle, note, proof

ORIGIN = "registry.example/consent-log"
LOG = note.Ed25519Signer.generate(ORIGIN)
LEAVES = merkle.leaf_hashes(b"event %d" % i for i in range(13))
SIGNED = checkpoint.sign_checkpoint(
    checkpoint.Checkpoint(ORIGIN, len(LEAVES), merkle.root(LEAVES)), [LOG]
)


def _proof_for(index, extra=None):
    return proof.make_tlog_proof(index, merkle.inclusion_proof(index, LEAVES), SIGNED, extra)


def test_every_leaf_has_a_proof_that_verifies_offline():
    for index, leaf in enumerate(LEAVES):
        parsed, head, _ = proof.verify_tlog_proof(
            _proof_for(index), leaf_hash=leaf, origin=ORIGIN, verifiers=[LOG.verifier()]
        )
        assert (parsed.index, head.size) == (index, 13)


def test_the_proof_text_follows_the_spec_layout():
    text = _proof_for(3, extra=b"receipt R-1").decode()
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1].startswith("extra ")
    assert lines[2] == "index 3"
    assert text.endswith(SIGNED.decode())
    assert proof.TlogProof.parse(text.encode()).extra == b"receipt R-1"


def test_a_proof_for_another_leaf_fails():
    with pytest.raises(proof.ProofMismatchError):
        proof.verify_tlog_proof(
            _proof_for(3), leaf_hash=LEAVES[4], origin=ORIGIN, verifiers=[LOG.verifier()]
        )


def test_a_proof_under_an_unknown_key_fails():
    with pytest.raises(note.UnverifiedNoteError):
        proof.verify_tlog_proof(
            _proof_for(3),
            leaf_hash=LEAVES[3],
            origin=ORIGIN,
            verifiers=[note.Ed25519Signer.generate(ORIGIN).verifier()],
        )


def test_witness_cosignatures_in_the_checkpoint_are_verified_when_configured():
    witness = checkpoint.CosignatureSigner(
        "witness.example/w1", Ed25519PrivateKey.generate(), timestamp=1_700_000_000
    )
    cosigned = note.sign_note(note.open_note(SIGNED, [LOG.verifier()]), [witness])
    data = proof.make_tlog_proof(3, merkle.inclusion_proof(3, LEAVES), cosigned)
    _, _, signed = proof.verify_tlog_proof(
        data, leaf_hash=LEAVES[3], origin=ORIGIN, verifiers=[LOG.verifier(), witness.verifier()]
    )
    assert {s.name for s in signed.sigs} == {ORIGIN, "witness.example/w1"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace(b"c2sp.org/tlog-proof@v1", b"c2sp.org/tlog-proof@v2"),
        lambda t: t.replace(b"index 3", b"index 03"),
        lambda t: t.replace(b"index 3", b"index -3"),
        lambda t: t.replace(b"index 3\n", b""),
        lambda t: t.replace(b"\n\n", b"\n", 1),
        lambda t: t.split(b"\n\n", 1)[0] + b"\n\n",
        lambda t: t.replace(b"=\n", b"\n", 1),  # unpadded hash
    ],
)
def test_malformed_proofs_are_rejected(mangle):
    with pytest.raises(proof.MalformedProofError):
        proof.TlogProof.parse(mangle(_proof_for(3)))
