"""Filters of the licensee eligibility query (django-filter): what a builder narrows a
corpus by. Lists are comma-separated (``language=en,ja``); every value is checked, and a
malformed one is a 400 with the form's errors per field (``DjangoFilterBackend`` raises
DRF's ``ValidationError``, which the problem+json handler answers). The schema types
come from the ``extend_schema_field`` overrides, bounds and patterns included."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django_filters import rest_framework as filters  # type: ignore[import-untyped]
from django_filters.fields import (  # type: ignore[import-untyped]
    BaseCSVField,
    IsoDateTimeField,
)
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.models import JURISDICTION_RE, LANGUAGE_RE, Recording, Track

# PostgreSQL column bounds: a larger number is a malformed filter (400), never a 500.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
MAX_VALUES = 100

LANGUAGE = RegexValidator(
    LANGUAGE_RE, message="a BCP 47 language tag, e.g. en, ja, pt-BR (lower-case language)"
)
JURISDICTION = RegexValidator(
    JURISDICTION_RE, message="an ISO 3166 code, e.g. JP, DE, US-IL (upper case)"
)


class IntegerFilter(filters.Filter):
    """A whole number (django-filter's NumberFilter would take 1.5)."""

    field_class = forms.IntegerField


class BoundedCSVField(BaseCSVField):
    """A comma-separated list of at most ``MAX_VALUES`` values (an IN list is bounded)."""

    def clean(self, value: list[str] | None) -> Any:
        if value is not None and len(value) > MAX_VALUES:
            raise forms.ValidationError(f"at most {MAX_VALUES} values", code="max_values")
        return super().clean(value)


class CharInFilter(filters.BaseInFilter, filters.CharFilter):
    """A comma-separated list of strings, each validated."""

    base_field_class = BoundedCSVField


class IntegerInFilter(filters.BaseInFilter, IntegerFilter):
    """A comma-separated list of whole numbers, each validated."""

    base_field_class = BoundedCSVField


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, turned into UTC here: PostgreSQL refuses offsets beyond 15:59 that
    Python accepts, and a moment outside years 1..9999 in UTC is out of range."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(datetime.UTC)
        except (OverflowError, ValueError) as exc:
            raise forms.ValidationError("out of range", code="invalid") from exc


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def _flag(value: str) -> bool:
    return value == "true"


class EligibleRecordingFilter(filters.FilterSet):
    """Narrow the eligible recordings (all given filters must hold)."""

    language = extend_schema_field(
        {
            "type": "string",
            "pattern": LANGUAGE_RE,
            "maxLength": 35,
            "description": "Recording language(s), BCP 47, comma-separated: `en,ja` "
            f"(at most {MAX_VALUES}).",
        }
    )(CharInFilter(field_name="language", max_length=35, validators=[LANGUAGE]))
    jurisdiction = extend_schema_field(
        {
            "type": "string",
            "pattern": JURISDICTION_RE,
            "maxLength": 8,
            "description": "Where the call was recorded, ISO 3166, comma-separated: "
            f"`US-IL,JP` (at most {MAX_VALUES}).",
        }
    )(CharInFilter(field_name="jurisdiction", max_length=8, validators=[JURISDICTION]))
    sample_rate_hz = extend_schema_field(
        serializers.IntegerField(
            min_value=1,
            max_value=INTEGER_MAX,
            help_text=f"Sample rate(s) in Hz, comma-separated (at most {MAX_VALUES}).",
        )
    )(IntegerInFilter(field_name="sample_rate_hz", min_value=1, max_value=INTEGER_MAX))
    min_duration_ms = extend_schema_field(
        serializers.IntegerField(
            min_value=0, max_value=BIGINT_MAX, help_text="At least this long (milliseconds)."
        )
    )(IntegerFilter(field_name="duration_ms", lookup_expr="gte", min_value=0, max_value=BIGINT_MAX))
    max_duration_ms = extend_schema_field(
        serializers.IntegerField(
            min_value=0, max_value=BIGINT_MAX, help_text="At most this long (milliseconds)."
        )
    )(IntegerFilter(field_name="duration_ms", lookup_expr="lte", min_value=0, max_value=BIGINT_MAX))
    isolated_at_source = extend_schema_field(
        serializers.BooleanField(
            help_text="`true`: each speaker was captured on their own channel at the source; "
            "`false`: separated afterwards."
        )
    )(
        filters.TypedChoiceFilter(
            field_name="isolated_at_source",
            choices=[("true", "true"), ("false", "false")],
            coerce=_flag,
        )
    )
    recorded_after = extend_schema_field(
        serializers.DateTimeField(
            help_text="Recorded at or after this moment (ISO 8601; without an offset: UTC)."
        )
    )(UtcDateTimeFilter(field_name="recorded_at", lookup_expr="gte"))
    recorded_before = extend_schema_field(
        serializers.DateTimeField(
            help_text="Recorded strictly before this moment (ISO 8601; without an offset: UTC)."
        )
    )(UtcDateTimeFilter(field_name="recorded_at", lookup_expr="lt"))

    class Meta:
        model = Recording
        fields: list[str] = []


class EligibleTrackFilter(EligibleRecordingFilter):
    """The same filters on tracks: each condition is on the track's recording."""

    class Meta:
        model = Track
        fields: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # ``self.filters`` is this instance's deep copy of the declared filters.
        for declared in self.filters.values():
            declared.field_name = f"recording__{declared.field_name}"
