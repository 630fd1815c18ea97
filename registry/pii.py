"""Personal data at rest: MultiFernet encryption and an HMAC blind index for exact lookup.

Speakers' names, emails, phone numbers and dates of birth are stored only as Fernet
tokens. The keys come from ``settings.PII_ENCRYPTION_KEYS`` (newest first): the first
key encrypts, every key decrypts, so a new key can be put in front and the data
re-encrypted afterwards (``manage.py rotate_pii_keys``) without downtime.

Encrypted columns cannot be searched, so an email also gets a blind index: an
HMAC-SHA256 of its normalised form under ``settings.BLIND_INDEX_KEY``. Equal emails give
equal indexes; the index reveals nothing without the key.
"""

from __future__ import annotations

import base64
import unicodedata
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


class PiiDecryptionError(Exception):
    """A stored token could not be decrypted with any configured key."""


@cache
def _cipher() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.PII_ENCRYPTION_KEYS])


@cache
def _blind_index_key() -> bytes:
    return base64.urlsafe_b64decode(settings.BLIND_INDEX_KEY)


@receiver(setting_changed)
def _forget_keys(*, setting: str, **_: Any) -> None:
    if setting in {"PII_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}:
        _cipher.cache_clear()
        _blind_index_key.cache_clear()


def encrypt(plaintext: str) -> str:
    """Encrypt with the primary key; returns a Fernet token as text."""
    return _cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Decrypt with whichever configured key made the token."""
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise PiiDecryptionError("no configured PII key decrypts this value") from exc


def reencrypt(token: str) -> str:
    """Re-encrypt a token under the primary key (MultiFernet.rotate keeps its timestamp)."""
    try:
        return _cipher().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise PiiDecryptionError("no configured PII key decrypts this value") from exc


def is_encrypted_with_primary_key(token: str) -> bool:
    """True when the first (primary) key alone decrypts the token."""
    try:
        Fernet(settings.PII_ENCRYPTION_KEYS[0]).decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def keyed_digest(domain: str, value: str) -> str:
    """HMAC-SHA256 (hex) of ``value`` under the blind-index key, separated by ``domain``
    so equal values in different roles (an IP, a user agent) give unrelated digests.
    Used where we must recognise a value again but must not store it."""
    mac = hmac.HMAC(_blind_index_key(), hashes.SHA256())
    mac.update(f"{domain}\x1f{value}".encode())
    return mac.finalize().hex()


def normalise_email(email: str) -> str:
    """The form emails are compared in: NFKC, trimmed, case-folded.

    Local parts are case-sensitive in theory but not in any mailbox provider a speaker
    will use; dots and plus-tags are kept because providers differ on them.
    """
    return unicodedata.normalize("NFKC", email).strip().casefold()


def email_blind_index(email: str) -> str:
    """HMAC-SHA256 (hex) of the normalised email under the blind-index key."""
    mac = hmac.HMAC(_blind_index_key(), hashes.SHA256())
    mac.update(normalise_email(email).encode("utf-8"))
    return mac.finalize().hex()
