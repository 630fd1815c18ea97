"""Transparency log checkpoints (C2SP tlog-checkpoint, c2sp.org/tlog-checkpoint@v1.0.0)
and Ed25519 witness cosignatures (C2SP tlog-cosignature, c2sp.org/tlog-cosignature@v1,
signature type 0x04).

A checkpoint is the text of a signed note:

    <origin>
    <tree size, decimal, no leading zeroes>
    <base64 root hash>
    [extension lines, each non-empty]

each line ending in a newline. ``Checkpoint.parse`` accepts exactly that and nothing
else; ``open_checkpoint`` verifies the note's signatures and checks the origin.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)

from consent.tlog.merkle import HASH_SIZE
from consent.tlog.note import (
    Ed25519Verifier,
    MalformedKeyError,
    Note,
    NoteError,
    Signer,
    Verifier,
    open_note,
    sign_note,
)

#: Tree sizes are unsigned 64-bit in RFC 9162 and in every C2SP implementation.
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class MalformedCheckpointError(NoteError):
    """The note text is not a tlog-checkpoint body (tlog-checkpoint "Note text")."""


class WrongOriginError(NoteError):
    """The checkpoint is signed, but for another log than the one expected."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: its origin, its size and the RFC 9162 §2.1.1 root
    hash at that size, plus opaque extension lines (NOT RECOMMENDED by the spec)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # tlog-checkpoint "Note text": a non-empty origin, a size, a root hash, and
        # non-empty extension lines; no line may hold a newline or a control character.
        for line in (self.origin, *self.extensions):
            if not line or any(ord(char) < 0x20 for char in line):
                raise MalformedCheckpointError("checkpoint lines must be non-empty text")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpointError(f"tree size {self.size} out of range")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError("the root hash must be 32 bytes")

    def to_text(self) -> str:
        """The note text: origin, decimal size, base64 root hash, extension lines, each
        ending in a newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """tlog-checkpoint "Note text", strictly: at least three non-empty lines, each
        ending in a newline; an ASCII decimal size without leading zeroes; the
        canonical standard base64 of a 32-byte hash; non-empty extension lines."""
        if not text.endswith("\n"):
            raise MalformedCheckpointError("a checkpoint ends with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError("a checkpoint has at least three lines")
        origin, size_text, hash_text, *extensions = lines
        if len(size_text) > 20 or not _DECIMAL.fullmatch(size_text):
            raise MalformedCheckpointError(f"bad tree size {size_text!r}")
        root_hash = _decode_hash(hash_text)
        return cls(
            origin=origin, size=int(size_text), root_hash=root_hash, extensions=tuple(extensions)
        )


def _decode_hash(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise MalformedCheckpointError(f"bad root hash {text!r}") from exc
    # Only the canonical encoding: one checkpoint, one text (no stray padding bits).
    if len(raw) != HASH_SIZE or base64.b64encode(raw).decode("ascii") != text:
        raise MalformedCheckpointError(f"bad root hash {text!r}")
    return raw


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> bytes:
    """The checkpoint as a signed note (tlog-checkpoint "Signatures": the log's key
    name SHOULD be the origin, which is enforced for the first signer)."""
    if not signers or signers[0].name != checkpoint.origin:
        raise MalformedCheckpointError("the log's key name must be the checkpoint origin")
    return sign_note(checkpoint.to_text(), signers)


def open_checkpoint(
    message: bytes, *, origin: str, verifiers: Iterable[Verifier]
) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint from the log ``origin``: the note verifies under at
    least one of ``verifiers`` (signed-note "Signatures"), its text is a checkpoint
    (tlog-checkpoint "Note text"), and its origin line is ``origin``. Unknown
    signatures (witness cosignatures the caller did not configure) are ignored."""
    note = open_note(message, verifiers)
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != origin:
        raise WrongOriginError(f"checkpoint for {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint, note


# --- tlog-cosignature: timestamped Ed25519 cosignatures (type 0x04) -------------------

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04

_MAX_TIMESTAMP = 2**63 - 1


def _cosigned_message(timestamp: int, checkpoint_text: bytes) -> bytes:
    """tlog-cosignature "Ed25519 signed message": ``cosignature/v1``, ``time <t>``,
    then the whole checkpoint note text."""
    return b"cosignature/v1\ntime %d\n" % timestamp + checkpoint_text


class CosignatureVerifier(Ed25519Verifier):
    """A witness's Ed25519 cosigning key (tlog-cosignature, type 0x04), usable as a
    note ``Verifier``: the signature is ``u64 timestamp || Ed25519 signature`` over
    the cosigned message. ``timestamp_of`` reads the time a verified cosignature
    states. Name, key ID and vkey are the signed-note key's, with type 0x04."""

    signature_type = SIGNATURE_TYPE_COSIGNATURE_V1

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > _MAX_TIMESTAMP:
            return False
        try:
            self._public_key.verify(signature[8:], _cosigned_message(timestamp, message))
        except InvalidSignature:
            return False
        return True

    @staticmethod
    def timestamp_of(signature_base64: str) -> int:
        """The POSIX time a cosignature line's signature states."""
        raw = base64.b64decode(signature_base64, validate=True)
        return int.from_bytes(raw[4:12], "big")


class CosignatureSigner:
    """A witness's cosigning key, for tests and for a witness run by a licensee."""

    signature_type = SIGNATURE_TYPE_COSIGNATURE_V1

    def __init__(self, name: str, private_key: Ed25519PrivateKey, *, timestamp: int) -> None:
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise MalformedKeyError(f"timestamp {timestamp} out of range")
        self._private_key = private_key
        self._verifier = CosignatureVerifier(name, private_key.public_key())
        self._timestamp = timestamp

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    def verifier(self) -> CosignatureVerifier:
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        signed = self._private_key.sign(_cosigned_message(self._timestamp, message))
        return self._timestamp.to_bytes(8, "big") + signed
