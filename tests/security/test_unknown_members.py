"""Strict input over the URL conf: every write operation of the API (tests/security/
api_calls.py lists them from the URL conf, each with a body it accepts) refuses a member
it does not declare, at the top and inside every nested object, with 400
``unknown_members`` naming it by its path, and writes nothing (no row, no stored
Idempotency-Key answer). A member named twice in one object is ``duplicate_members``.
The NDJSON upload reports either as the line's problem inside its 422 ``batch_rejected``.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework import serializers

from registry.api.strict import StrictSerializer
from tests.security.api_calls import (
    CALLS,
    NDJSON,
    Api,
    Call,
    api_operations,
    encode,
    members,
    openapi,
    replaced,
    send,
)
from tests.security.hostile import StateGuard, own_savepoint

pytestmark = pytest.mark.django_db(databases=["default", "replica"])

PROBLEM = "application/problem+json"
SURPLUS = "surplus"
WRITES = [call for call in CALLS if call.method != "get"]


def _dotted(path: tuple[Any, ...]) -> str:
    """``("participants", 1, "role")`` as the API names it: ``participants[1].role``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _spoiled(call: Call, api: Api) -> Iterator[tuple[Any, str]]:
    """The call's valid body with one unknown member added: at the top, then inside each
    nested object in turn; with the path the API must name (an NDJSON line's own)."""
    body = call.body(api) if call.takes_body else {}
    if call.media == NDJSON:
        line = body[0]
        yield [{**line, SURPLUS: 1}], SURPLUS
        for path, inner in members(line):
            if isinstance(inner, dict):
                yield [replaced(line, path, {**inner, SURPLUS: 1})], _dotted((*path, SURPLUS))
        return
    yield {**body, SURPLUS: 1}, SURPLUS
    for path, inner in members(body):
        if isinstance(inner, dict):
            yield replaced(body, path, {**inner, SURPLUS: 1}), _dotted((*path, SURPLUS))


def _refusal(answer: Any, call: Call) -> dict[str, Any]:
    """The problem that names the members: the answer's, or for an upload its line's."""
    assert answer["Content-Type"] == PROBLEM, (call.label, answer.content[:300])
    problem: dict[str, Any] = json.loads(answer.content)
    if call.media == NDJSON:
        assert (answer.status_code, problem["code"]) == (422, "batch_rejected"), problem
        [line] = problem["lines"]
        assert line["line"] == 1
        return dict(line)
    assert answer.status_code == 400, (call.label, problem)
    return problem


def test_every_write_operation_of_the_url_conf_is_tried() -> None:
    written = {(name, method) for name, method in api_operations() if method != "get"}
    assert written == {(call.name, call.method) for call in WRITES}


def test_an_unknown_member_anywhere_in_a_write_is_refused_by_name_and_writes_nothing(
    client: Client, api: Api
) -> None:
    guard = StateGuard()
    wrong: list[str] = []
    tried = 0
    for call in WRITES:
        for body, named in _spoiled(call, api):
            url = call.url(api)  # built first: a fresh speaker or model is the set-up's
            guard.catch_up()
            with own_savepoint():
                answer = send(client, api, call, url=url, body=encode(call, body))
            changed = guard.changed_tables()
            guard.accept()
            tried += 1
            problem = _refusal(answer, call)
            if problem.get("code") != "unknown_members" or problem.get("members") != [named]:
                wrong.append(f"{call.label} +{named}: {problem}")
            elif named not in problem["detail"]:
                wrong.append(f"{call.label} +{named}: detail does not name it: {problem}")
            if changed:
                wrong.append(f"{call.label} +{named}: refused but changed {changed}")
    assert not wrong, "\n".join(wrong)
    # Every nested object of the starting bodies was tried (evidence, participants,
    # tracks, the upload's tracks): far more than one per operation.
    assert tried > len(WRITES) + 5


def test_a_member_named_twice_in_one_object_is_refused_and_writes_nothing(
    client: Client, api: Api
) -> None:
    guard = StateGuard()
    wrong: list[str] = []
    for call in WRITES:
        if not call.takes_body:
            continue
        body = call.body(api)
        line = body[0] if call.media == NDJSON else body
        first = next(iter(line))
        text = encode(call, [line] if call.media == NDJSON else line).decode()
        # The first member again, with its own value: which one counts cannot be known.
        doubled = text.replace(
            "{", "{" + json.dumps(first) + ": " + json.dumps(line[first]) + ", ", 1
        )
        url = call.url(api)
        guard.catch_up()
        with own_savepoint():
            answer = send(client, api, call, url=url, body=doubled.encode())
        changed = guard.changed_tables()
        guard.accept()
        problem = _refusal(answer, call)
        if problem.get("code") != "duplicate_members" or problem.get("members") != [first]:
            wrong.append(f"{call.label}: {problem}")
        if changed:
            wrong.append(f"{call.label}: refused but changed {changed}")
    assert not wrong, "\n".join(wrong)


def test_unknown_members_are_named_in_every_line_of_an_upload(client: Client, api: Api) -> None:
    call = next(c for c in WRITES if c.media == NDJSON)
    good, bad = api.recording(), api.recording()
    bad["tracks"][1]["role"] = "host"
    answer = send(client, api, call, body=encode(call, [good, bad]))
    problem = json.loads(answer.content)
    assert answer.status_code == 422
    assert problem["code"] == "batch_rejected"
    assert problem["lines"] == [
        {
            "line": 2,
            "code": "unknown_members",
            "status": 400,
            "detail": problem["lines"][0]["detail"],
            "field": "tracks[1].role",
            "members": ["tracks[1].role"],
        }
    ]


def _objects(node: dict[str, Any], at: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema of a request body, nested ones and array items included."""
    schemas = openapi()["components"]["schemas"]
    while "$ref" in node:
        node = schemas[node["$ref"].rsplit("/", 1)[1]]
    for single in node.get("allOf", []):
        yield from _objects(single, at)
    if node.get("type") == "object" or "properties" in node:
        yield at, node
        for name, inner in node.get("properties", {}).items():
            yield from _objects(inner, f"{at}.{name}")
    if "items" in node:
        yield from _objects(node["items"], f"{at}[]")


def test_the_schema_admits_no_other_member_in_any_request_body() -> None:
    loose, checked = [], []
    for route, operations in openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                for at, node in _objects(body["schema"], f"{method.upper()} {route} {media}"):
                    checked.append(at)
                    if node.get("additionalProperties") is not False:
                        loose.append(at)
    assert not loose, loose
    # The consent act's evidence and the session's participants are among them.
    assert any(at.endswith(".evidence") for at in checked), checked
    assert any(at.endswith(".participants[]") for at in checked), checked


API_MODULES = [
    "consent.api.serializers",
    "consent.api.staff",
    "datasetcards.api.eligibility",
    "datasetcards.api.serializers",
    "propagation.api.serializers",
    "registry.api.base",
    "registry.api.strict",
]
# Query strings of reads: a filter, not a write (list endpoints add ``cursor`` and
# ``page_size`` of their own), so an extra parameter changes nothing that is kept.
QUERY_SHAPES = {
    "NoticeQuery",
    "FeedQuery",
    "DeliveryQuery",
    "ManifestQuery",
    "EligibilityQuery",
    "ExplanationQuery",
    "SpeakerLookupIn",
    "EventExportIn",
}

# Parts of answers named for what they hold rather than ``…Out``.
ANSWER_PARTS = {"ConsentNow", "NoticeMissing"}


def test_every_input_shape_of_the_api_is_strict() -> None:
    """A serializer that is neither an answer (``…Out``) nor a read's query must derive
    from StrictSerializer: a new input shape cannot silently drop members."""
    loose = []
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for name, shape in inspect.getmembers(module, inspect.isclass):
            if (
                shape.__module__ != module_name
                or not issubclass(shape, serializers.BaseSerializer)
                or name.endswith("Out")
                or name in QUERY_SHAPES | ANSWER_PARTS
            ):
                continue
            if not issubclass(shape, StrictSerializer):
                loose.append(f"{module_name}.{name}")
    assert not loose, loose
