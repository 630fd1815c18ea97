"""The API fuzzed against its own OpenAPI schema (schemathesis, in-process WSGI, real
database): every operation, a bounded number of generated requests each, sent with a
token that may call it and, half of the time, ids of real objects on the path. No
answer may be a 5xx, and every answer (errors included) must match what the schema
declares: status code, content type, headers and body."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from consent.services import create_recording_session
from propagation.models import PropagationTarget, WebhookEndpoint
from registry import tokens
from registry.models import TokenKind, TokenScope
from tests.api.helpers import LICENSEE_SCOPES
from tests.consent.conftest import withdraw
from tests.propagation.conftest import World

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
MAX_EXAMPLES = 12


def _schema() -> Any:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app = get_wsgi_application()
    return loaded


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """Bulk ingestion bodies: generated lines as they come, anything else as one line."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


SCHEMA = _schema()
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}


@pytest.fixture
def wsgi_requests() -> Iterator[None]:
    """As Django's test client does: a request must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        # Manifests read from the replica alias (a mirror here): let teardown drop it.
        connections["replica"].close()


@pytest.fixture
def bearer(world: World) -> dict[str, str]:
    """A token per kind; the operation's tag picks which one to send."""
    licensee = tokens.issue_api_token(
        name="fuzz",
        kind=TokenKind.LICENSEE,
        scopes=[str(s) for s in LICENSEE_SCOPES],
        licensee=world.licensee,
    )
    collector = tokens.issue_api_token(
        name="fuzz", kind=TokenKind.COLLECTOR, scopes=[TokenScope.WRITE_CONSENT, TokenScope.INGEST]
    )
    staff = tokens.issue_api_token(name="fuzz", kind=TokenKind.STAFF, scopes=["staff:read"])
    return {"licensee": licensee.secret, "collector": collector.secret, "staff": staff.secret}


def real_ids(world: World) -> dict[str, str]:
    """Path parameter name → the id of a real object the caller may see (a withdrawal
    of b's gives the licensee a notice)."""
    withdraw(world.b, "redistribution")
    notice = PropagationTarget.objects.filter(license=world.license).first()
    ids = {
        "webhook_id": WebhookEndpoint.objects.get(licensee=world.licensee).public_id,
        "delivery_id": notice.idempotency_key if notice else uuid.uuid4(),
        "session_id": create_recording_session(
            external_ref="fuzz", jurisdiction="US-IL", language="en", speakers=[world.a, world.b]
        ).public_id,
        "release_id": world.release.public_id,
        "dataset_id": world.training.public_id,
        "recording_id": world.calls[0].public_id,
        "model_id": world.model.public_id,
        "speaker_id": world.a.public_id,
    }
    return {name: str(value) for name, value in ids.items()}


@pytest.mark.django_db(databases=["default", "replica"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_server_errors_and_every_answer_matches_the_schema(
    label: str, world: World, bearer: dict[str, str], wsgi_requests: None
) -> None:
    operation = OPERATIONS[label]
    tags = set(operation.tags or [])
    kind = next((k for k in ("collector", "staff") if k in tags), "licensee")
    headers = {"Authorization": f"Bearer {bearer[kind]}"}
    known = real_ids(world)

    @given(case=operation.as_strategy(), real=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any, real: bool) -> None:
        if real and case.path_parameters:
            for name in case.path_parameters:
                if name in known:
                    case.path_parameters[name] = known[name]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
