"""Strict input: a member the API does not declare is refused, never silently dropped.

DRF ignores undeclared members, so ``{"purpose": "training", "purposes": ["training",
"likeness"]}`` would record training alone while the caller believes it asked for two
purposes: a bundled consent that was never bundled, or an act that never happened. Every
input serializer of the API derives from ``StrictSerializer``: before any other check, the
whole body (nested objects and list items included) is compared with the declared members,
and anything else is refused with 400 ``unknown_members`` naming each member by its path
(``evidence.signedname``, ``participants[1].role``). A member that appears only in answers
(e.g. ``id``) is not accepted on input either: the schema's request shape lists what is.
A member named twice in one JSON object is refused as ``duplicate_members`` (the JSON
parser and the NDJSON lines both use ``members_once``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.request import Request

from registry.errors import RegistryError

# How many unknown members a problem names: enough to act on, bounded against a body
# made of thousands of them.
MAX_NAMED = 20


class UnknownMembers(RegistryError):
    """The body holds members the operation does not declare: nothing was done."""

    code = "unknown_members"

    def __init__(self, members: list[str]) -> None:
        self.members = members[:MAX_NAMED]
        more = len(members) - len(self.members)
        named = ", ".join(self.members) + (f" and {more} more" if more else "")
        noun = "member" if len(members) == 1 else "members"
        super().__init__(
            f"this operation does not accept the {noun} {named}; nothing was done",
            field=self.members[0],
        )

    def extensions(self) -> dict[str, Any]:
        """What the problem adds to ``code`` and ``detail``: the members, by path."""
        return {"members": self.members}


class DuplicateMembers(RegistryError):
    """A JSON object names a member twice: which value was meant cannot be known (a
    parser keeps the last, a proxy or log may read the first), so nothing is done."""

    code = "duplicate_members"

    def __init__(self, members: list[str]) -> None:
        self.members = members[:MAX_NAMED]
        super().__init__(
            "a JSON object names the member(s) " + ", ".join(self.members) + " more than "
            "once; send each member once. Nothing was done",
            field=self.members[0],
        )

    def extensions(self) -> dict[str, Any]:
        return {"members": self.members}


def members_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for ``json.load``: an object, or DuplicateMembers."""
    found = dict(pairs)
    if len(found) != len(pairs):
        counts = Counter(name for name, _ in pairs)
        raise DuplicateMembers(sorted(name for name, count in counts.items() if count > 1))
    return found


def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def unknown_members(
    field: serializers.Field[Any, Any, Any, Any], data: Any, at: str = ""
) -> list[str]:
    """Paths of the members of ``data`` that ``field`` (a serializer, a list of them or
    any field holding one) does not declare for input. Values of the wrong type are left
    to the field's own validation."""
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        if not isinstance(data, list) or field.child is None:
            return []
        return [
            found
            for index, item in enumerate(data)
            for found in unknown_members(field.child, item, f"{at}[{index}]")
        ]
    if not isinstance(field, serializers.Serializer) or not isinstance(data, Mapping):
        return []
    accepted = {name: f for name, f in field.fields.items() if not f.read_only}
    found = []
    for name in data:
        inner = accepted.get(name) if isinstance(name, str) else None
        if inner is None:
            found.append(_path(at, str(name)))
        else:
            found.extend(unknown_members(inner, data[name], _path(at, name)))
    return found


class StrictSerializer(serializers.Serializer[Any]):
    """The base of every input shape of the API: undeclared members are refused (400
    ``unknown_members``) before anything else is checked, so nothing is written."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # Only the outermost serializer looks: it sees every path, nested ones included.
        found: list[str] = [] if self.parent is not None else unknown_members(self, data)
        if found:
            raise UnknownMembers(found)
        return super().run_validation(data)


class NoBody(StrictSerializer):
    """The body of an operation that takes none: empty, or an empty object."""


def refuse_body(request: Request) -> None:
    """For an operation without a body: any member sent is refused as unknown."""
    NoBody(data=request.data).is_valid(raise_exception=True)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """In the OpenAPI schema, a request shape admits no other member
    (``additionalProperties: false``), as the API enforces."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
