"""The API's JSON parser."""

from __future__ import annotations

import codecs
import json
from typing import Any

from rest_framework import exceptions

# get_encoding refuses charsets that decompress (bz2_codec…); the stubs lack it.
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]
from rest_framework.utils.json import strict_constant

from registry.api.strict import members_once


class JsonParser(JSONParser):
    """DRF's JSON parser, with nesting too deep for Python's decoder refused as bad JSON
    (``[[[[…`` raises RecursionError, which DRF does not catch: a 500) and a member named
    twice in one object refused (``duplicate_members``, see strict.py). Bodies over
    DATA_UPLOAD_MAX_MEMORY_SIZE are refused before parsing (413, see errors.py)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            return json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=strict_constant,
                object_pairs_hook=members_once,
            )
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
