"""Domain errors of the catalogue. The API layer maps each ``code`` to problem+json."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every domain error: a stable machine ``code`` and a human ``detail``."""

    code = "registry_error"
    status = 400

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(RegistryError):
    code = "invalid_input"


class DuplicateRecord(RegistryError):
    code = "duplicate"
    status = 409


class ChannelMismatch(RegistryError):
    code = "channel_mismatch"


class NotFound(RegistryError):
    code = "not_found"
    status = 404
