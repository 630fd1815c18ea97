"""Licensee B must not reach licensee A's objects through any endpoint. The list of
endpoints is read from the URL conf: a new endpoint fails ``test_every_endpoint_is_
covered`` until it is added here, so none can be forgotten.

Each licensee endpoint that takes an object id is called, with every method it
answers, by B's token (all licensee scopes) on A's object: the answer is 404, the same
as for an unknown id. Endpoints for the collection platform and staff answer B's token
with 403. Lists B may call never contain A's ids."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from datasetcards import services as datasets
from propagation.models import PropagationTarget, WebhookEndpoint
from tests.api.helpers import licensee_client
from tests.consent.conftest import give_all, withdraw
from tests.factories import LicenseeFactory, RecordingFactory, SpeakerFactory
from tests.propagation.conftest import ALL, World, built_release, deliver_all, make_dataset

pytestmark = pytest.mark.django_db


def _webhook(world: World) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(licensee=world.licensee, is_active=True)


def _delivery(world: World) -> PropagationTarget:
    """A's notice of a withdrawal (planned; delivery is not needed to exist)."""
    target = PropagationTarget.objects.filter(kind="license", license=world.license).first()
    if target is None:
        withdraw(world.a, "training")
        target = PropagationTarget.objects.get(kind="license", license=world.license)
    return target


QUERY = "?"  # an OWNED entry's query string parameters, if it needs some


# Path parameters of licensee A's objects, per URL name.
_FILES = ("card-json", "card-jsonld", "readme", "card-pdf", "card-sig", "rsl", "manifest")
_RELEASE = ("release", *(f"release-{name}" for name in _FILES))
OWNED: dict[str, Callable[[World], dict[str, Any]]] = {
    **{name: (lambda w: {"release_id": w.release.public_id}) for name in _RELEASE},
    "dataset": lambda w: {"dataset_id": w.training.public_id},
    "recording-eligibility": lambda w: {
        "recording_id": w.calls[0].public_id,
        QUERY: {"purpose": "training"},
    },
    **{
        name: (lambda w: {"webhook_id": _webhook(w).public_id})
        for name in ("webhook", "webhook-rotate-secret", "webhook-ping")
    },
    **{
        name: (lambda w: {"delivery_id": _delivery(w).idempotency_key})
        for name in ("delivery", "delivery-acknowledge")
    },
    **{name: (lambda w: {"model_id": w.model.public_id}) for name in ("model", "model-releases")},
}
# Licensee lists: B's answer must not contain any of A's ids.
# Licensee lists (with the query they are asked with): B's answer never holds A's ids;
# a query naming A's release is refused like an unknown one.
LISTS: dict[str, Callable[[World], dict[str, Any]]] = {
    "releases": lambda w: {},
    "datasets": lambda w: {},
    "eligible-tracks": lambda w: {"purpose": "biometric"},
    "eligible-recordings": lambda w: {"purpose": "biometric"},
    "feed": lambda w: {},
    "webhooks": lambda w: {},
    "deliveries": lambda w: {},
    "models": lambda w: {},
}
# Not for licensees: B's licensee token is refused (403).
NOT_FOR_LICENSEES: dict[str, Callable[[World], dict[str, Any]]] = {
    "collector-speakers": lambda w: {},
    "collector-speaker-consents": lambda w: {"speaker_id": w.a.public_id},
    "collector-notices": lambda w: {},
    "collector-sessions": lambda w: {},
    "collector-session-clearance": lambda w: {"session_id": uuid.uuid4()},
    "collector-recordings": lambda w: {},
    "collector-recordings-bulk": lambda w: {},
    "staff-speakers": lambda w: {},
    "staff-speaker-events": lambda w: {"speaker_id": w.a.public_id},
    "staff-speaker-consents": lambda w: {"speaker_id": w.a.public_id},
    "staff-speaker-propagation": lambda w: {"speaker_id": w.a.public_id},
    "staff-events-export": lambda w: {},
}
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
    covered = set(OWNED) | set(LISTS) | set(NOT_FOR_LICENSEES) | PUBLIC
    missing = sorted(set(ENDPOINTS) - covered)
    assert not missing, f"add these API endpoints to tests/api/test_idor.py: {missing}"
    stale = sorted(covered - set(ENDPOINTS))
    assert not stale, f"no longer in the URL conf: {stale}"


@pytest.fixture
def intruder(world: World) -> Any:
    """Licensee B with objects of its own: a release holding only a later call of two
    other speakers, and a token with every licensee scope. A withdrawal of A's speaker
    has reached A's license (so A has a delivery and an erratum)."""
    b = LicenseeFactory()
    later = timezone.now() - datetime.timedelta(minutes=30)
    speakers = [SpeakerFactory(), SpeakerFactory()]
    with time_machine.travel(later - datetime.timedelta(minutes=30)):
        for speaker in speakers:
            give_all(speaker, *ALL)
    RecordingFactory(speakers=speakers, recorded_at=later)
    dataset = make_dataset(
        "b-only", ["biometric"], recorded_from=later - datetime.timedelta(minutes=1)
    )
    release = built_release(dataset)
    assert release.recording_count == 1
    datasets.grant_license(
        licensee=b,
        dataset=dataset,
        purposes_allowed=["biometric"],
        derived_model_action="retrain",
        starts_on=timezone.now().date(),
        releases=[release],
    )
    _delivery(world)
    deliver_all()
    return licensee_client(b)


def _call(client: Any, method: str, url: str, query: dict[str, Any] | None = None) -> Any:
    if query:
        url = f"{url}?{urlencode(query)}"
    return getattr(client, method)(url, data={}, format="json")


@pytest.mark.parametrize("name", sorted(OWNED))
def test_another_licensees_object_is_not_found(name: str, world: World, intruder: Any) -> None:
    kwargs = OWNED[name](world)
    query = kwargs.pop(QUERY, None)
    url = reverse(f"api:{name}", kwargs=kwargs)
    unknown = reverse(f"api:{name}", kwargs={k: uuid.uuid4() for k in kwargs})
    for method in ENDPOINTS[name].methods:
        answer = _call(intruder, method, url, query)
        assert answer.status_code == 404, (name, method, answer.content)
        assert answer["Content-Type"] == "application/problem+json"
        # Indistinguishable from an id that does not exist.
        assert answer.json() == _call(intruder, method, unknown, query).json(), (name, method)


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
            world.training.public_id,
            world.model.public_id,
            world.license.public_id,
            *(r.public_id for r in world.calls),
        )
    ]


@pytest.mark.parametrize("name", sorted(LISTS))
def test_lists_show_nothing_of_another_licensee(name: str, world: World, intruder: Any) -> None:
    url = reverse(f"api:{name}")
    answer = intruder.get(url, LISTS[name](world))
    assert answer.status_code == 200, answer.content
    body = answer.content.decode()
    for value in _ids_of_a(world):
        assert value not in body, (name, value)
    if "purpose" in LISTS[name](world):
        asked = intruder.get(url, {**LISTS[name](world), "release": world.release.public_id})
        assert asked.status_code == 404, asked.content
