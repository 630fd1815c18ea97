"""Print a fresh set of production secrets as environment lines.

    python -m registry.generate_keys >> .env

Each value is random and urlsafe (no spaces or quotes), so the output also works as
``env $(python -m registry.generate_keys) <command>``.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet


def _random_32_bytes() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def fresh_secrets() -> dict[str, str]:
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "PII_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BLIND_INDEX_KEY": _random_32_bytes(),
        "SIGNING_KEY": _random_32_bytes(),
    }


if __name__ == "__main__":
    for name, value in fresh_secrets().items():
        print(f"{name}={value}")
