"""Offline-verifiable inclusion proofs (C2SP tlog-proof, c2sp.org/tlog-proof@v1): the
file a receipt links to once its event is sealed.

    c2sp.org/tlog-proof@v1
    [extra <base64>]
    index <decimal>
    <base64 hash>...              (RFC 9162 §2.1.3.1 audit path, leaf's sibling first)
    <blank line>
    <signed checkpoint, verbatim, with any witness cosignatures>
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consent.tlog.checkpoint import Checkpoint, open_checkpoint
from consent.tlog.merkle import HASH_SIZE, verify_inclusion
from consent.tlog.note import Note, NoteError, Verifier

HEADER = "c2sp.org/tlog-proof@v1"

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class MalformedProofError(NoteError):
    """The text is not a tlog-proof (tlog-proof "Format")."""


class ProofMismatchError(NoteError):
    """The proof is well formed and signed, but does not prove the leaf's inclusion."""


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its audit path, the signed checkpoint it leads to, and opaque,
    unauthenticated extra data."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def to_bytes(self) -> bytes:
        """The tlog-proof text (tlog-proof "Format")."""
        if self.index < 0 or any(len(h) != HASH_SIZE for h in self.path):
            raise MalformedProofError("bad index or hash")
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode("ascii") for h in self.path)
        return ("\n".join(lines) + "\n\n").encode("ascii") + self.checkpoint

    @classmethod
    def parse(cls, data: bytes) -> TlogProof:
        """Parse a tlog-proof strictly; the checkpoint is kept verbatim (verify it with
        ``verify_tlog_proof``)."""
        head, sep, checkpoint = data.partition(b"\n\n")
        if not sep or not checkpoint:
            raise MalformedProofError("no checkpoint after the proof")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError as exc:
            raise MalformedProofError("the proof lines are not ASCII") from exc
        if lines[0] != HEADER:
            raise MalformedProofError("not a c2sp.org/tlog-proof@v1")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = _b64(rest.pop(0)[len("extra ") :], None)
        if not rest or not rest[0].startswith("index "):
            raise MalformedProofError("missing index line")
        index_text = rest.pop(0)[len("index ") :]
        if not _DECIMAL.fullmatch(index_text):
            raise MalformedProofError(f"bad index {index_text!r}")
        path = tuple(_b64(line, HASH_SIZE) for line in rest)
        return cls(index=int(index_text), path=path, checkpoint=checkpoint, extra=extra)


def _b64(text: str, size: int | None) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedProofError(f"bad base64 {text!r}") from exc
    if (size is not None and len(raw) != size) or base64.b64encode(raw).decode() != text:
        raise MalformedProofError(f"bad base64 {text!r}")
    return raw


def verify_tlog_proof(
    data: bytes, *, leaf_hash: bytes, origin: str, verifiers: Iterable[Verifier]
) -> tuple[TlogProof, Checkpoint, Note]:
    """Check a tlog-proof offline: its checkpoint is signed for ``origin`` by a known
    key (tlog-checkpoint, signed-note), and its path proves ``leaf_hash`` at its index
    in that tree (RFC 9162 §2.1.3.2). Pass witness cosigning keys among ``verifiers``
    and inspect ``Note.sigs`` to apply a witness policy."""
    proof = TlogProof.parse(data)
    checkpoint, note = open_checkpoint(proof.checkpoint, origin=origin, verifiers=verifiers)
    if not verify_inclusion(
        proof.index, checkpoint.size, leaf_hash, proof.path, checkpoint.root_hash
    ):
        raise ProofMismatchError(
            f"the path does not prove the leaf at index {proof.index} "
            f"of the tree of size {checkpoint.size}"
        )
    return proof, checkpoint, note


def make_tlog_proof(
    index: int, path: Sequence[bytes], signed_checkpoint: bytes, extra: bytes | None = None
) -> bytes:
    """The tlog-proof text for leaf ``index`` with audit ``path`` to ``signed_checkpoint``."""
    return TlogProof(index, tuple(path), signed_checkpoint, extra).to_bytes()
