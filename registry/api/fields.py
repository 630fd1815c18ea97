"""Serializer fields shared by the API's input shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StringOnly:
    """Takes a JSON string only. DRF's CharField turns a number into text (``7`` into
    ``"7"``), so a wrong type would be stored instead of refused."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("Not a valid string.", code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class StringField(StringOnly, serializers.CharField):
    pass


class SlugStringField(StringOnly, serializers.SlugField):
    pass
