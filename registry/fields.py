"""Model fields whose values are encrypted at rest (see ``registry.pii``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression

from registry import pii


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as a Fernet token. Only ``isnull`` lookups make sense on it."""

    description = "Text encrypted at rest with MultiFernet"

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        return None if value is None else pii.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return pii.encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        # An exact match against ciphertext can never succeed (Fernet is randomised);
        # refuse it loudly rather than return nothing. Use the blind index instead.
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)


class EncryptedDateField(EncryptedTextField):
    """A date stored as an encrypted ISO 8601 string."""

    description = "Date encrypted at rest with MultiFernet"

    def from_db_value(  # type: ignore[override]
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> datetime.date | None:
        text = super().from_db_value(value, expression, connection)
        return None if text is None else datetime.date.fromisoformat(text)

    def to_python(self, value: Any) -> datetime.date | None:  # type: ignore[override]
        if value is None or isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        date = self.to_python(value)
        assert date is not None  # noqa: S101 - narrowed above
        return pii.encrypt(date.isoformat())
