"""Every rendering of a release's card as served bytes, and their signatures.

JSON renderings are signed over their RFC 8785 canonical form (so whitespace and key
order do not matter to a verifier); the README and the PDF over their exact bytes. The
native card carries its own signature (over the card without its ``signature``
member); ``signatures()`` lists the signature of every rendering for the ``.sig`` URL."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from datasetcards.cards import croissant, huggingface, native, pdf, preferences
from datasetcards.models import Release
from registry import signing

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "schema" / "card.schema.json").read_text()
)


class CardInvalid(Exception):
    """A card that would not validate against the published schema is never served."""


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def signed_card(release: Release) -> dict[str, Any]:
    card = native.build_card(release)
    card["signature"] = signing.sign(card)
    try:
        jsonschema.validate(card, SCHEMA, format_checker=jsonschema.FormatChecker())
    except jsonschema.ValidationError as exc:
        raise CardInvalid(exc.message) from exc
    return card


def unsigned(card: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in card.items() if key != "signature"}


@dataclass(frozen=True)
class Rendering:
    filename: str
    content_type: str
    body: bytes
    json: bool  # signed over its JCS form


RENDERINGS: dict[str, tuple[str, bool]] = {
    "card.json": ("application/json", True),
    "card.jsonld": ("application/ld+json", True),
    "README.md": ("text/markdown; charset=utf-8", False),
    "card.pdf": ("application/pdf", False),
    "rsl.xml": ("application/rsl+xml", False),
}


def rendering(release: Release, filename: str, card: dict[str, Any] | None = None) -> Rendering:
    """One rendering, built alone (a request for the README never builds the PDF)."""
    content_type, is_json = RENDERINGS[filename]
    if filename == "rsl.xml":
        body = preferences.rsl_document(release, native.release_urls(release)["manifest"])
        return Rendering(filename, content_type, body, is_json)
    card = card or signed_card(release)
    if filename == "card.json":
        body = _json_bytes(card)
    elif filename == "card.jsonld":
        body = _json_bytes(croissant.build_croissant(release, card))
    elif filename == "README.md":
        body = huggingface.build_readme(release, card).encode()
    else:
        body = pdf.build_pdf(release, card)
    return Rendering(filename, content_type, body, is_json)


def renderings(release: Release) -> dict[str, Rendering]:
    card = signed_card(release)
    return {name: rendering(release, name, card) for name in RENDERINGS}


def signed_bytes(rendering: Rendering) -> bytes:
    """What the signature of a rendering covers."""
    return signing.canonical(json.loads(rendering.body)) if rendering.json else rendering.body


def signatures(release: Release) -> dict[str, Any]:
    """``{filename: {sha256, canonicalization, signature}}`` for every rendering."""
    return {
        "release": str(release.public_id),
        "jwks": native.url("/.well-known/jwks.json"),
        "files": {
            name: {
                "sha256": hashlib.sha256(item.body).hexdigest(),
                "signed_over": "RFC 8785 canonical JSON" if item.json else "exact bytes",
                "signature": signing.sign_bytes(signed_bytes(item)),
            }
            for name, item in renderings(release).items()
        },
    }


def _strict_json(body: bytes) -> Any:
    """Parse JSON refusing duplicate keys (readers disagree on which one wins)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(items)

    return json.loads(body, object_pairs_hook=pairs)


def verify_rendering(
    filename: str, body: bytes, signature: dict[str, str], sha256: str | None = None
) -> bool:
    """Check one downloaded rendering against its entry of the ``.sig`` document: the
    exact bytes' sha256 when given, and the signature (over JCS for JSON)."""
    if sha256 is not None and hashlib.sha256(body).hexdigest() != sha256:
        return False
    is_json = filename.endswith((".json", ".jsonld"))
    try:
        data = signing.canonical(_strict_json(body)) if is_json else body
    except ValueError:
        return False
    return signing.verify_bytes(data, signature)


def verify_card(card: dict[str, Any]) -> bool:
    """The native card's embedded signature (over the card without ``signature``)."""
    return signing.verify(unsigned(card), card.get("signature", {}))
