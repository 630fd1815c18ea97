"""Licensee B must not reach licensee A's objects through any endpoint. The list of
endpoints is read from the URL conf: a new endpoint fails ``test_every_endpoint_is_
covered`` until it is added here, so none can be forgotten.

Each licensee endpoint that takes an object id is called, with every method it
answers, by B's token (all licensee scopes) on A's object: the answer is 404, the same
as for an unknown id. Endpoints for the collection platform and staff answer B's token
with 403. Lists B may call never contain A's ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.api.helpers import licensee_client
from tests.factories import LicenseeFactory
from tests.propagation.conftest import World

pytestmark = pytest.mark.django_db

# Path parameters of licensee A's objects, per URL name.
OWNED: dict[str, Callable[[World], dict[str, Any]]] = {
    "release": lambda w: {"release_id": w.release.public_id},
}
# Licensee lists: B's answer must not contain any of A's ids.
LISTS: set[str] = {"releases"}
# Not for licensees: B's licensee token is refused (403).
NOT_FOR_LICENSEES: dict[str, Callable[[World], dict[str, Any]]] = {}
# No token needed, nothing private.
PUBLIC = {"schema", "docs", "redoc"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    methods: tuple[str, ...]


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner.strip(":"))
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}:{entry.name}".strip(":"), entry.callback


def api_endpoints() -> list[Endpoint]:
    found = []
    for full_name, callback in _walk(get_resolver().url_patterns):
        namespace, _, name = full_name.rpartition(":")
        if namespace != "api":
            continue
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        methods = tuple(
            m
            for m in ("get", "post", "put", "patch", "delete")
            if view is not None and hasattr(view, m)
        )
        found.append(Endpoint(name, methods))
    return found


ENDPOINTS = {e.name: e for e in api_endpoints()}


def test_every_endpoint_is_covered() -> None:
    covered = set(OWNED) | LISTS | set(NOT_FOR_LICENSEES) | PUBLIC
    missing = sorted(set(ENDPOINTS) - covered)
    assert not missing, f"add these API endpoints to tests/api/test_idor.py: {missing}"
    stale = sorted(covered - set(ENDPOINTS))
    assert not stale, f"no longer in the URL conf: {stale}"


@pytest.fixture
def intruder(world: World) -> Any:
    """Licensee B, with a token holding every licensee scope."""
    return licensee_client(LicenseeFactory())


def _call(client: Any, method: str, url: str) -> Any:
    return getattr(client, method)(url, data={}, format="json")


@pytest.mark.parametrize("name", sorted(OWNED))
def test_another_licensees_object_is_not_found(name: str, world: World, intruder: Any) -> None:
    kwargs = OWNED[name](world)
    url = reverse(f"api:{name}", kwargs=kwargs)
    unknown = reverse(
        f"api:{name}",
        kwargs={k: uuid.uuid4() if isinstance(v, uuid.UUID) else v for k, v in kwargs.items()},
    )
    for method in ENDPOINTS[name].methods:
        answer = _call(intruder, method, url)
        assert answer.status_code == 404, (name, method, answer.content)
        assert answer["Content-Type"] == "application/problem+json"
        # Indistinguishable from an id that does not exist.
        assert answer.json() == _call(intruder, method, unknown).json(), (name, method)


@pytest.mark.parametrize("name", sorted(NOT_FOR_LICENSEES))
def test_platform_and_staff_endpoints_refuse_licensee_tokens(
    name: str, world: World, intruder: Any
) -> None:
    url = reverse(f"api:{name}", kwargs=NOT_FOR_LICENSEES[name](world))
    for method in ENDPOINTS[name].methods:
        answer = _call(intruder, method, url)
        assert answer.status_code == 403, (name, method, answer.content)


def _ids_of_a(world: World) -> list[str]:
    return [
        str(i)
        for i in (
            world.release.public_id,
            world.biometric_release.public_id,
            world.training.public_id,
            world.model.public_id,
            world.license.public_id,
            *(r.public_id for r in world.calls),
        )
    ]


@pytest.mark.parametrize("name", sorted(LISTS))
def test_lists_show_nothing_of_another_licensee(name: str, world: World, intruder: Any) -> None:
    answer = intruder.get(reverse(f"api:{name}"))
    assert answer.status_code in (200, 400), answer.content
    body = answer.content.decode()
    for value in _ids_of_a(world):
        assert value not in body, (name, value)
