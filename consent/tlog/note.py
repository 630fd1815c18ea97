"""Signed notes (C2SP signed-note, c2sp.org/signed-note@v1.0.0) with Ed25519.

A note is a UTF-8 text ending in a newline, a blank line, then one or more signature
lines ``— <key name> <base64(4-byte key ID || signature)>``. Verifier keys travel as
"vkeys", ``<name>+<hex key ID>+<base64(type byte || public key)>``; signer keys as
``PRIVATE+KEY+<name>+<hex key ID>+<base64(type byte || seed)>`` (the encodings of
``golang.org/x/mod/sumdb/note``, which this module follows line by line, including its
rejection of every malformed input). Ed25519 comes from ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: signed-note "Signature types": 0x01 is Ed25519 over the note text.
SIGNATURE_TYPE_ED25519 = 0x01

#: The spec asks verifiers to accept at least 16 signatures and to bound them; Go's
#: reference implementation rejects notes with more than 100.
MAX_SIGNATURES = 100

_SIGNATURE_PREFIX = "— "  # em dash, space
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class NoteError(ValueError):
    """A note, key or signature was rejected."""


class MalformedNoteError(NoteError):
    """The message is not a well-formed signed note (signed-note "Format")."""

    def __init__(self, reason: str = "malformed note") -> None:
        super().__init__(reason)


class MalformedKeyError(NoteError):
    """A vkey or signer key is not well formed, or its key ID does not match."""


class InvalidSignatureError(NoteError):
    """A signature from a known key did not verify; the whole note is rejected
    (signed-note "Signatures": clients SHOULD reject it)."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class AmbiguousVerifierError(NoteError):
    """Two known keys share a name and key ID, so a signature cannot be attributed."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"ambiguous key {name}+{key_id:08x}")


class UnverifiedNoteError(NoteError):
    """The note is well formed but no known key signed it (signed-note "Signatures":
    clients MUST reject it). The parsed note is attached for diagnostics only."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note


def is_valid_key_name(name: str) -> bool:
    """signed-note "Format": key names are non-empty and contain no Unicode spaces and
    no plus (U+002B)."""
    if not name or "+" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates are not UTF-8
        return False
    return not any(char.isspace() for char in name)


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """signed-note "Signatures": ``SHA-256(key name || 0x0A || type || public key)[:4]``
    as a big-endian uint32."""
    digest = sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str) -> bytes:
    """Standard, padded base64 (RFC 4648 §4), nothing else accepted."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("not base64") from exc


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Verifier(Protocol):
    """A known public key: its name, its key ID and its signature check."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    """A private key that signs note texts under a name and key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes: ...


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Ed25519Verifier:
    """signed-note "Ed25519 signatures": a key of type 0x01 verifying RFC 8032
    signatures over the note text."""

    signature_type = SIGNATURE_TYPE_ED25519

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        if not is_valid_key_name(name):
            raise MalformedKeyError(f"invalid key name {name!r}")
        self._name = name
        self._public_key = public_key
        self._raw = _raw_public_key(public_key)
        self._key_id = key_id(name, self.signature_type, self._raw)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._public_key

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @property
    def vkey(self) -> str:
        """The verifier key text ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        encoded = _b64encode(bytes([self.signature_type]) + self._raw)
        return f"{self._name}+{self._key_id:08x}+{encoded}"


def parse_vkey(vkey: str) -> Ed25519Verifier:
    """A verifier from its vkey text, rejecting everything Go's ``note.NewVerifier``
    rejects: a bad name, a key ID that is not 8 hex digits or does not match the key,
    bad base64, an unknown signature type, a key of the wrong length."""
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not is_valid_key_name(name) or not _KEY_ID.fullmatch(hex_id):
        raise MalformedKeyError("malformed verifier id")
    try:
        key = _b64decode(encoded)
    except ValueError as exc:
        raise MalformedKeyError("malformed verifier id") from exc
    if not key:
        raise MalformedKeyError("malformed verifier id")
    if int(hex_id, 16) != key_id(name, key[0], key[1:]):
        raise MalformedKeyError("invalid verifier hash")
    if key[0] != SIGNATURE_TYPE_ED25519:
        raise MalformedKeyError("unknown verifier algorithm")
    if len(key) != 1 + 32:
        raise MalformedKeyError("malformed verifier id")
    return Ed25519Verifier(name, Ed25519PublicKey.from_public_bytes(key[1:]))


class Ed25519Signer:
    """An Ed25519 private key that signs notes under ``name``."""

    signature_type = SIGNATURE_TYPE_ED25519

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not is_valid_key_name(name):
            raise MalformedKeyError(f"invalid key name {name!r}")
        self._name = name
        self._private_key = private_key
        self._verifier = Ed25519Verifier(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    def verifier(self) -> Ed25519Verifier:
        return self._verifier

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>``."""
        seed = self._private_key.private_bytes_raw()
        encoded = _b64encode(bytes([self.signature_type]) + seed)
        return f"PRIVATE+KEY+{self._name}+{self.key_id:08x}+{encoded}"


def parse_skey(skey: str) -> Ed25519Signer:
    """A signer from its private key text, rejecting what Go's ``note.NewSigner``
    rejects (including a key ID that does not match the derived public key)."""
    private, _, rest = skey.partition("+")
    key_word, _, rest = rest.partition("+")
    name, _, rest = rest.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if private != "PRIVATE" or key_word != "KEY":
        raise MalformedKeyError("malformed signer key")
    if not is_valid_key_name(name) or not _KEY_ID.fullmatch(hex_id):
        raise MalformedKeyError("malformed signer key")
    try:
        key = _b64decode(encoded)
    except ValueError as exc:
        raise MalformedKeyError("malformed signer key") from exc
    if not key:
        raise MalformedKeyError("malformed signer key")
    if key[0] != SIGNATURE_TYPE_ED25519:
        raise MalformedKeyError("unknown signer algorithm")
    if len(key) != 1 + 32:
        raise MalformedKeyError("malformed signer key")
    signer = Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
    if signer.key_id != int(hex_id, 16):
        raise MalformedKeyError("invalid signer hash")
    return signer


@dataclass(frozen=True)
class Signature:
    """One signature line: the key's name and ID and the base64 text as it appeared."""

    name: str
    key_id: int
    base64: str


@dataclass(frozen=True)
class Note:
    """A note's text (with its final newline) and its signatures: ``sigs`` verified by
    known keys, ``unverified_sigs`` from keys the reader does not know."""

    text: str
    sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = field(default=())


class _KnownKeys:
    def __init__(self, verifiers: Iterable[Verifier]) -> None:
        self._by_key: dict[tuple[str, int], list[Verifier]] = {}
        for verifier in verifiers:
            self._by_key.setdefault((verifier.name, verifier.key_id), []).append(verifier)

    def get(self, name: str, key_id: int) -> Verifier | None:
        found = self._by_key.get((name, key_id))
        if not found:
            return None
        if len(found) > 1:
            raise AmbiguousVerifierError(name, key_id)
        return found[0]


def _check_characters(text: str) -> None:
    # signed-note "Format": no ASCII control characters other than newline.
    if any(ord(char) < 0x20 and char != "\n" for char in text):
        raise MalformedNoteError()


def open_note(message: bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note and verify its signatures (signed-note "Format" and
    "Signatures"; Go's ``note.Open``).

    Signatures whose (name, key ID) is not a known key are kept as unverified and
    otherwise ignored; a signature from a known key that fails rejects the note
    (``InvalidSignatureError``); a note with no signature from a known key is rejected
    (``UnverifiedNoteError``). Repeated signatures are dropped. Malformed input — not
    UTF-8, a control character, no blank line before the signatures, a signature block
    not ending in a newline, a line without the em-dash prefix, a bad key name, bad
    base64, a signature shorter than 5 bytes, more than ``MAX_SIGNATURES`` lines —
    raises ``MalformedNoteError``."""
    try:
        decoded = message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNoteError() from exc
    _check_characters(decoded)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError()
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNoteError()

    known = _KnownKeys(verifiers)
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[str] = set()
    text_bytes = text.encode("utf-8")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError()
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise MalformedNoteError()
        body = line[len(_SIGNATURE_PREFIX) :]
        name, _, encoded = body.partition(" ")
        try:
            raw = _b64decode(encoded)
        except ValueError as exc:
            raise MalformedNoteError() from exc
        if not is_valid_key_name(name) or not encoded or len(raw) < 5:
            raise MalformedNoteError()
        signer_id = int.from_bytes(raw[:4], "big")
        verifier = known.get(name, signer_id)
        if verifier is None:
            if body not in seen_unverified:
                seen_unverified.add(body)
                unverified.append(Signature(name, signer_id, encoded))
            continue
        if (name, signer_id) in seen:
            continue
        seen.add((name, signer_id))
        if not verifier.verify(text_bytes, raw[4:]):
            raise InvalidSignatureError(name, signer_id)
        verified.append(Signature(name, signer_id, encoded))

    note = Note(text=text, sigs=tuple(verified), unverified_sigs=tuple(unverified))
    if not verified:
        raise UnverifiedNoteError(note)
    return note


def sign_note(note: Note | str, signers: Sequence[Signer]) -> bytes:
    """The signed-note encoding of ``note`` signed by every signer (Go's
    ``note.Sign``): existing signatures of ``note`` come first, except those by a key
    that signs again, then the new ones. The text must end in a newline and be free of
    control characters other than newline."""
    if isinstance(note, str):
        note = Note(text=note)
    text = note.text
    if not text.endswith("\n"):
        raise MalformedNoteError("a note text must end with a newline")
    _check_characters(text)
    if not signers and not note.sigs and not note.unverified_sigs:
        raise MalformedNoteError("a signed note needs at least one signature")
    message = text.encode("utf-8")

    new_lines: list[str] = []
    signing: set[tuple[str, int]] = set()
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise NoteError("invalid signer")
        signing.add((signer.name, signer.key_id))
        raw = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        new_lines.append(f"{_SIGNATURE_PREFIX}{signer.name} {_b64encode(raw)}\n")

    old_lines: list[str] = []
    for sig in (*note.sigs, *note.unverified_sigs):
        if not is_valid_key_name(sig.name):
            raise MalformedNoteError()
        if (sig.name, sig.key_id) in signing:
            continue
        try:
            raw = _b64decode(sig.base64)
        except ValueError as exc:
            raise MalformedNoteError() from exc
        if len(raw) < 5 or int.from_bytes(raw[:4], "big") != sig.key_id:
            raise MalformedNoteError()
        old_lines.append(f"{_SIGNATURE_PREFIX}{sig.name} {sig.base64}\n")

    return (text + "\n" + "".join(old_lines) + "".join(new_lines)).encode("utf-8")
