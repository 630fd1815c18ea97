"""C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint) and tlog-cosignature v1.

The go.sum tree vector ("go.sum database tree", 123456789012, the record hash of
"hello world") is golang.org/x/mod ``sumdb/tlog/note_test.go`` (``TestFormatTree`` /
``TestParseTree``); sum.golang.org's tree notes are tlog-checkpoints."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.tlog import checkpoint, merkle, note

GO_TREE = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
ORIGIN = "registry.example/consent-log"


def test_formats_the_go_sum_tree_vector():
    head = checkpoint.Checkpoint(
        "go.sum database tree", 123456789012, merkle.leaf_hash(b"hello world")
    )
    assert head.to_text() == GO_TREE


def test_parses_the_go_sum_tree_vector():
    head = checkpoint.Checkpoint.parse(GO_TREE)
    assert (head.origin, head.size, head.root_hash, head.extensions) == (
        "go.sum database tree",
        123456789012,
        merkle.leaf_hash(b"hello world"),
        (),
    )


def test_following_lines_are_extension_lines():
    head = checkpoint.Checkpoint.parse(GO_TREE + "JOE\n" + "JOE\n")
    assert head.extensions == ("JOE", "JOE")
    assert head.to_text() == GO_TREE + "JOE\nJOE\n"


@pytest.mark.parametrize(
    "text",
    [
        GO_TREE[:-1],  # no final newline
        GO_TREE + "JOE",  # extension line without a newline
        GO_TREE + "\n",  # empty extension line
        "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n",
        "go.sum database tree\n0123\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",  # leading 0
        "go.sum database tree\n-1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n+1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n1 \nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n١٢\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",  # non-ASCII
        f"go.sum database tree\n{2**64}\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0\n",  # unpadded
        "go.sum database tree\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb1=\n",  # not canonical
        "go.sum database tree\n1\nAAAA\n",  # not 32 bytes
        "\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",  # empty origin
        "go.sum database tree\n1\n",  # two lines
        "",
    ],
)
def test_malformed_checkpoint_texts_are_rejected(text):
    with pytest.raises(checkpoint.MalformedCheckpointError):
        checkpoint.Checkpoint.parse(text)


def test_the_empty_tree_has_size_zero():
    head = checkpoint.Checkpoint.parse(
        f"{ORIGIN}\n0\n" + base64.b64encode(merkle.EMPTY_ROOT).decode() + "\n"
    )
    assert head.size == 0
    assert head.root_hash == merkle.root([])


origins = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], blacklist_characters="+"
    ),
    min_size=1,
    max_size=30,
).filter(note.is_valid_key_name)


@settings(max_examples=50, deadline=None)
@given(
    origin=origins,
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(alphabet="abc xyz=:", min_size=1, max_size=10), max_size=3),
)
def test_signed_checkpoints_round_trip(origin, size, root_hash, extensions):
    signer = note.Ed25519Signer.generate(origin)
    head = checkpoint.Checkpoint(origin, size, root_hash, tuple(extensions))
    assert checkpoint.Checkpoint.parse(head.to_text()) == head
    message = checkpoint.sign_checkpoint(head, [signer])
    opened, signed = checkpoint.open_checkpoint(
        message, origin=origin, verifiers=[signer.verifier()]
    )
    assert opened == head
    assert signed.sigs[0].name == origin


def test_a_checkpoint_for_another_origin_is_rejected():
    signer = note.Ed25519Signer.generate("other.example/log")
    head = checkpoint.Checkpoint("other.example/log", 1, merkle.leaf_hash(b""))
    message = checkpoint.sign_checkpoint(head, [signer])
    with pytest.raises(checkpoint.WrongOriginError):
        checkpoint.open_checkpoint(message, origin=ORIGIN, verifiers=[signer.verifier()])


def test_the_log_key_name_must_be_the_origin():
    with pytest.raises(checkpoint.MalformedCheckpointError):
        checkpoint.sign_checkpoint(
            checkpoint.Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"")),
            [note.Ed25519Signer.generate("someone.else")],
        )


def test_a_signed_note_whose_text_is_not_a_checkpoint_is_rejected():
    signer = note.Ed25519Signer.generate(ORIGIN)
    message = note.sign_note(f"{ORIGIN}\nnot a size\n", [signer])
    with pytest.raises(checkpoint.MalformedCheckpointError):
        checkpoint.open_checkpoint(message, origin=ORIGIN, verifiers=[signer.verifier()])


def test_a_witness_cosignature_verifies_and_states_its_time():
    log = note.Ed25519Signer.generate(ORIGIN)
    witness = checkpoint.CosignatureSigner(
        "witness.example/w1", Ed25519PrivateKey.generate(), timestamp=1_679_315_147
    )
    head = checkpoint.Checkpoint(ORIGIN, 20852163, merkle.leaf_hash(b"x"))
    signed = checkpoint.sign_checkpoint(head, [log])
    opened = note.open_note(signed, [log.verifier()])
    cosigned = note.sign_note(opened, [witness])
    _, both = checkpoint.open_checkpoint(
        cosigned, origin=ORIGIN, verifiers=[log.verifier(), witness.verifier()]
    )
    assert [s.name for s in both.sigs] == [ORIGIN, "witness.example/w1"]
    cosig = both.sigs[1]
    assert checkpoint.CosignatureVerifier.timestamp_of(cosig.base64) == 1_679_315_147
    # A log-only reader ignores the cosignature it does not know.
    _, log_only = checkpoint.open_checkpoint(cosigned, origin=ORIGIN, verifiers=[log.verifier()])
    assert [s.name for s in log_only.unverified_sigs] == ["witness.example/w1"]


def test_a_cosignature_signs_the_cosignature_v1_message_not_the_bare_text():
    witness_key = Ed25519PrivateKey.generate()
    witness = checkpoint.CosignatureSigner("witness.example/w1", witness_key, timestamp=7)
    text = checkpoint.Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"x")).to_text().encode()
    raw = witness.sign(text)
    assert raw[:8] == (7).to_bytes(8, "big")
    witness_key.public_key().verify(raw[8:], b"cosignature/v1\ntime 7\n" + text)
    # The same key as a plain Ed25519 note key has another key ID (type 0x04 vs 0x01).
    plain = note.Ed25519Verifier("witness.example/w1", witness_key.public_key())
    assert plain.key_id != witness.key_id
    assert base64.b64decode(witness.verifier().vkey.split("+", 2)[2])[0] == 0x04
