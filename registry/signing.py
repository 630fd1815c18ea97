"""Ed25519 signatures for everything the registry vouches for (consent receipts,
audit checkpoints, dataset cards), and the JWKS that lets anyone verify them.

Payloads are canonicalised with RFC 8785 (JSON Canonicalization Scheme) before signing,
so a verifier in any language gets the same bytes. Keys are identified by their RFC 7638
JWK thumbprint (``kid``). Retired public keys stay in the JWKS
(``SIGNING_RETIRED_PUBLIC_KEYS``) so old signatures keep verifying after a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def jwk(key: Ed25519PublicKey) -> dict[str, str]:
    x = _b64url(_raw_public(key))
    # RFC 7638: the thumbprint hashes the required members in lexicographic order.
    thumbprint = hashlib.sha256(
        json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":")).encode()
    ).digest()
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": _b64url(thumbprint),
        "use": "sig",
        "alg": ALGORITHM,
    }


@cache
def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.urlsafe_b64decode(settings.SIGNING_KEY))


@cache
def _public_keys() -> dict[str, Ed25519PublicKey]:
    keys = [_private_key().public_key()]
    for raw in getattr(settings, "SIGNING_RETIRED_PUBLIC_KEYS", []):
        keys.append(Ed25519PublicKey.from_public_bytes(_b64url_decode(raw)))
    return {jwk(key)["kid"]: key for key in keys}


@receiver(setting_changed)
def _forget_keys(*, setting: str, **_: Any) -> None:
    if setting in {"SIGNING_KEY", "SIGNING_RETIRED_PUBLIC_KEYS"}:
        _private_key.cache_clear()
        _public_keys.cache_clear()


def current_public_jwk() -> dict[str, str]:
    return jwk(_private_key().public_key())


def current_kid() -> str:
    return current_public_jwk()["kid"]


def jwks() -> dict[str, list[dict[str, str]]]:
    """The public keys, current first, as a JSON Web Key Set."""
    return {"keys": [jwk(key) for key in _public_keys().values()]}


def canonical(payload: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``payload``."""
    return bytes(rfc8785.dumps(payload))


def sign(payload: Any) -> dict[str, str]:
    """Sign the canonical form of ``payload``; returns ``{alg, kid, value}``."""
    return sign_bytes(canonical(payload))


def sign_bytes(data: bytes) -> dict[str, str]:
    """Sign raw bytes (a README or a PDF as served); returns ``{alg, kid, value}``."""
    return {"alg": ALGORITHM, "kid": current_kid(), "value": _b64url(_private_key().sign(data))}


def verify_bytes(data: bytes, signature: dict[str, str]) -> bool:
    """True when ``signature`` is a valid signature of exactly ``data`` by a known key."""
    if not isinstance(signature, dict):
        return False
    kid, value = signature.get("kid"), signature.get("value")
    if not isinstance(kid, str) or not isinstance(value, str):
        return False
    key = _public_keys().get(kid)
    if key is None or signature.get("alg") != ALGORITHM:
        return False
    try:
        key.verify(_b64url_decode(value), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify(payload: Any, signature: dict[str, str]) -> bool:
    """True when ``signature`` is a valid signature of ``payload`` by a known key."""
    try:
        data = canonical(payload)
    except (TypeError, ValueError):
        return False
    return verify_bytes(data, signature)
