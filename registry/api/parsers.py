"""The API's JSON parser."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class JsonParser(JSONParser):
    """DRF's JSON parser, with nesting too deep for Python's decoder refused as bad JSON
    (``[[[[…`` raises RecursionError, which DRF does not catch: a 500). Bodies over
    DATA_UPLOAD_MAX_MEMORY_SIZE are refused before parsing (413, see errors.py)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from exc
