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


def renderings(release: Release) -> dict[str, Rendering]:
    card = signed_card(release)
    links = native.release_urls(release)
    items = [
        Rendering("card.json", "application/json", _json_bytes(card), True),
        Rendering(
            "card.jsonld",
            "application/ld+json",
            _json_bytes(croissant.build_croissant(release, card)),
            True,
        ),
        Rendering(
            "README.md",
            "text/markdown; charset=utf-8",
            huggingface.build_readme(release, card).encode(),
            False,
        ),
        Rendering("card.pdf", "application/pdf", pdf.build_pdf(release, card), False),
        Rendering(
            "rsl.xml",
            "application/rsl+xml",
            preferences.rsl_document(release, links["manifest"]),
            False,
        ),
    ]
    return {item.filename: item for item in items}


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


def verify_rendering(filename: str, body: bytes, signature: dict[str, str]) -> bool:
    """Check one downloaded rendering against its entry of the ``.sig`` document."""
    is_json = filename.endswith((".json", ".jsonld"))
    try:
        data = signing.canonical(json.loads(body)) if is_json else body
    except ValueError:
        return False
    return signing.verify_bytes(data, signature)


def verify_card(card: dict[str, Any]) -> bool:
    """The native card's embedded signature (over the card without ``signature``)."""
    return signing.verify(unsigned(card), card.get("signature", {}))
