"""C2SP signed notes (c2sp.org/signed-note) with Ed25519.

Known answers come from golang.org/x/mod ``sumdb/note/note_test.go``: the PeterNeumann
and EnochRoot keys, the "If you think cryptography is the answer..." text and its
signature lines (Ed25519 is deterministic, so signing reproduces them byte for byte),
and the manglings ``TestNewVerifier``, ``TestNewSigner`` and ``TestOpen`` reject.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.tlog import note

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOT"
    "GwnWLox33WWd1RvMc+QQ=\n"
)
PETER = note.Signature(
    "PeterNeumann",
    0xC74F20A3,
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
)
ENOCH = note.Signature(
    "EnochRoot",
    0xAF0CFE78,
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
)

peter = note.parse_vkey(PETER_VKEY)


def insert_abcd_at_byte_60(line: str) -> str:
    """Go's ``sig[:60] + "ABCD" + sig[60:]`` (Go slices bytes; the em dash is 3)."""
    raw = line.encode()
    return (raw[:60] + b"ABCD" + raw[60:]).decode()


enoch = note.parse_vkey(ENOCH_VKEY)


def test_vkey_parses_and_round_trips():
    assert (peter.name, peter.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert peter.vkey == PETER_VKEY


def test_every_substring_and_single_character_change_of_a_vkey_is_rejected():
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(note.MalformedKeyError):
                    note.parse_vkey(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        mangled = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(note.MalformedKeyError):
            note.parse_vkey(mangled)


@pytest.mark.parametrize(
    "vkey",
    [
        # wrong length key, with adjusted key hash
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        # unknown algorithm, with adjusted key hash
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_vkeys_with_a_consistent_hash_but_bad_key_are_rejected(vkey):
    with pytest.raises(note.MalformedKeyError):
        note.parse_vkey(vkey)


def test_every_substring_and_single_character_change_of_a_signer_key_is_rejected():
    assert note.parse_skey(PETER_SKEY).skey == PETER_SKEY
    for i in range(len(PETER_SKEY) + 1):
        for j in range(i + 1, len(PETER_SKEY) + 1):
            if (i, j) != (0, len(PETER_SKEY)):
                with pytest.raises(note.MalformedKeyError):
                    note.parse_skey(PETER_SKEY[i:j])
    for i in range(len(PETER_SKEY)):
        mangled = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :]
        with pytest.raises(note.MalformedKeyError):
            note.parse_skey(mangled)


def test_signing_reproduces_the_reference_signature_line():
    signer = note.parse_skey(PETER_SKEY)
    assert note.sign_note(TEXT, [signer]).decode() == TEXT + "\n" + PETER_SIG


def test_signing_again_replaces_the_signers_old_signature():
    signer = note.parse_skey(PETER_SKEY)
    old = note.Note(TEXT, sigs=(note.Signature("PeterNeumann", 0xC74F20A3, "BADSIGN="),))
    assert note.sign_note(old, [signer]).decode() == TEXT + "\n" + PETER_SIG


@pytest.mark.parametrize(
    "bad",
    [
        note.Note("abc"),  # no final newline
        note.Note(TEXT, sigs=(note.Signature("a+b", 0, "ABCD"),)),  # bad name
        note.Note(TEXT, sigs=(note.Signature("PeterNeumann", 0xC74F20A3, "BADHASH="),)),
    ],
)
def test_signing_a_malformed_note_is_refused(bad):
    with pytest.raises(note.MalformedNoteError):
        note.sign_note(bad, [])


def test_one_known_and_one_unknown_signature_opens_with_the_unknown_kept_aside():
    opened = note.open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter])
    assert opened.text == TEXT
    assert opened.sigs == (PETER,)
    assert opened.unverified_sigs == (ENOCH,)


def test_two_known_signatures_both_verify():
    opened = note.open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [peter, enoch])
    assert opened.sigs == (PETER, ENOCH)
    assert opened.unverified_sigs == ()


def test_a_note_without_a_known_signature_is_rejected():
    with pytest.raises(note.UnverifiedNoteError) as raised:
        note.open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), [])
    assert raised.value.note.unverified_sigs == (PETER, ENOCH)


def test_a_duplicated_known_key_is_ambiguous_only_when_it_signed():
    with pytest.raises(note.AmbiguousVerifierError):
        note.open_note((TEXT + "\n" + ENOCH_SIG).encode(), [enoch, peter, enoch])
    assert note.open_note((TEXT + "\n" + PETER_SIG).encode(), [enoch, peter, enoch]).sigs


def test_more_than_a_hundred_signatures_is_malformed():
    for known in ([peter], []):
        with pytest.raises(note.MalformedNoteError):
            note.open_note((TEXT + "\n" + PETER_SIG * 101).encode(), known)


def test_sixteen_signatures_are_accepted():
    assert note.open_note((TEXT + "\n" + PETER_SIG * 16).encode(), [peter]).sigs == (PETER,)


def test_a_bad_signature_from_a_known_key_rejects_the_whole_note():
    with pytest.raises(note.InvalidSignatureError):
        note.open_note((TEXT + "\n" + insert_abcd_at_byte_60(PETER_SIG)).encode(), [peter])


def test_repeated_signatures_are_dropped_and_distinct_unknown_ones_kept():
    enoch_abcd = insert_abcd_at_byte_60(ENOCH_SIG)
    message = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    opened = note.open_note(message.encode(), [peter])
    assert opened.sigs == (PETER,)
    assert [s.base64 for s in opened.unverified_sigs] == [
        ENOCH.base64,
        ENOCH.base64[:46] + "ABCD" + ENOCH.base64[46:],
    ]


@pytest.mark.parametrize(
    "message",
    [
        TEXT.encode(),  # no signatures
        (TEXT + "\n").encode(),  # blank line, no signatures
        (TEXT + "\n" + PETER_SIG[:-1]).encode(),  # signature block without final newline
        ("\x01" + TEXT + "\n" + PETER_SIG).encode(),  # control character
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),  # not UTF-8
        (TEXT + "\n" + "— Bad Name " + PETER.base64).encode(),  # space in name
        (TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),  # not a signature line
        (TEXT + "\n" + "- PeterNeumann " + PETER.base64 + "\n").encode(),  # hyphen, no em dash
        (TEXT + "\n" + "— PeterNeumann AAAAAA==\n").encode(),  # shorter than 5 bytes
        (TEXT + "\n" + "— PeterNeumann \n").encode(),  # empty signature
        (TEXT + "\n" + "— PeterNeumann " + PETER.base64.rstrip("=") + "\n").encode(),  # unpadded
        (TEXT + "\n" + "—  PeterNeumann " + PETER.base64 + "\n").encode(),  # empty name
        (TEXT + "\n" + "— Peter+Neumann " + PETER.base64 + "\n").encode(),  # plus in name
        (TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG).encode(),  # CRLF
    ],
)
def test_malformed_notes_are_rejected(message):
    with pytest.raises(note.MalformedNoteError):
        note.open_note(message, [peter])


def test_the_text_is_separated_at_the_last_blank_line():
    signer = note.Ed25519Signer.generate("example.com/log")
    text = "first paragraph\n\nsecond paragraph\n"
    opened = note.open_note(note.sign_note(text, [signer]), [signer.verifier()])
    assert opened.text == text


def test_a_signature_with_the_right_name_but_another_key_is_ignored_not_trusted():
    real = note.Ed25519Signer.generate("example.com/log")
    impostor = note.Ed25519Signer.generate("example.com/log")
    message = note.sign_note("hello\n", [impostor])
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(message, [real.verifier()])


def test_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_and_key():
    from hashlib import sha256

    raw = base64.b64decode(PETER_VKEY.split("+", 2)[2])
    expected = sha256(b"PeterNeumann\n" + raw).digest()[:4]
    assert peter.key_id == int.from_bytes(expected, "big")


texts = st.lists(
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\n"),
        max_size=40,
    ),
    min_size=1,
    max_size=6,
).map(lambda lines: "".join(line + "\n" for line in lines))


@settings(max_examples=50, deadline=None)
@given(text=texts, signer_count=st.integers(1, 4))
def test_any_text_signed_by_several_keys_round_trips(text, signer_count):
    signers = [note.Ed25519Signer.generate(f"example.com/k{i}") for i in range(signer_count)]
    message = note.sign_note(text, signers)
    opened = note.open_note(message, [s.verifier() for s in signers])
    assert opened.text == text
    assert [s.name for s in opened.sigs] == [s.name for s in signers]
    only_last = note.open_note(message, [signers[-1].verifier()])
    assert len(only_last.unverified_sigs) == signer_count - 1
    # Adding a signature later keeps the earlier ones.
    extra = note.Ed25519Signer.generate("witness.example/w1")
    cosigned = note.sign_note(only_last, [extra])
    assert note.open_note(cosigned, [extra.verifier(), signers[0].verifier()]).sigs


@settings(max_examples=50, deadline=None)
@given(text=texts, position=st.integers(min_value=0))
def test_changing_any_byte_of_the_text_breaks_the_signature(text, position):
    signer = note.Ed25519Signer.generate("example.com/log")
    message = bytearray(note.sign_note(text, [signer]))
    body = len(text.encode())
    index = position % body
    message[index] = ord("x") if message[index] != ord("x") else ord("y")
    with pytest.raises(note.NoteError):
        note.open_note(bytes(message), [signer.verifier()])
