"""Model fields whose values are encrypted at rest (see ``registry.pii``)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Expression
from django.db.models.expressions import Combinable

from registry import pii


class _OnlyIsNullLookup:
    """An exact match against ciphertext can never succeed (Fernet is randomised), so
    every lookup but ``isnull`` is refused loudly. Search through a blind index."""

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedTextField(_OnlyIsNullLookup, models.TextField):
    """Text stored as a Fernet token."""

    description = "Text encrypted at rest with MultiFernet"

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        return None if value is None else pii.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else pii.encrypt(str(value))


if TYPE_CHECKING:
    _DateFieldBase = models.Field[datetime.date | Combinable | None, datetime.date | None]
else:
    _DateFieldBase = models.Field  # Field is generic only in django-stubs


class EncryptedDateField(_OnlyIsNullLookup, _DateFieldBase):
    """A date stored as the Fernet token of its ISO 8601 form."""

    description = "Date encrypted at rest with MultiFernet"

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> datetime.date | None:
        return None if value is None else datetime.date.fromisoformat(pii.decrypt(value))

    def to_python(self, value: Any) -> datetime.date | None:
        if value is None or isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        date = self.to_python(value)
        return None if date is None else pii.encrypt(date.isoformat())
