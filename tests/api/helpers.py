"""Shared by the API tests: a client holding a token, and the problem+json check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from registry import tokens
from registry.models import Licensee, TokenKind, TokenScope

LICENSEE_SCOPES = [
    TokenScope.READ_DATASETS,
    TokenScope.READ_FEED,
    TokenScope.MANAGE_WEBHOOKS,
    TokenScope.MANAGE_MODELS,
]


def api_client(bearer: str | None = None) -> APIClient:
    client = APIClient()
    if bearer:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {bearer}")
    return client


def licensee_client(licensee: Licensee, scopes: list[str] | None = None) -> APIClient:
    """A client with a licensee token (every licensee scope unless ``scopes``)."""
    issued = tokens.issue_api_token(
        name="pipeline",
        kind=TokenKind.LICENSEE,
        scopes=[str(s) for s in (scopes or LICENSEE_SCOPES)],
        licensee=licensee,
    )
    return api_client(issued.secret)


def collector_client(scopes: list[str] | None = None) -> APIClient:
    issued = tokens.issue_api_token(
        name="platform",
        kind=TokenKind.COLLECTOR,
        scopes=[str(s) for s in (scopes or [TokenScope.WRITE_CONSENT, TokenScope.INGEST])],
    )
    return api_client(issued.secret)


def staff_client() -> APIClient:
    issued = tokens.issue_api_token(
        name="compliance", kind=TokenKind.STAFF, scopes=[TokenScope.STAFF_READ]
    )
    return api_client(issued.secret)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is problem+json with this status and code, and says why."""
    assert response.status_code == status, getattr(response, "content", response)
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["detail"]
    return body


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released together (each on its own database
    connection); their results in completion order. For transactional tests."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            result = call()
            with lock:
                results.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def biometric_licensee(world: Any, **terms: Any) -> Licensee:
    """Licensee B, holding the world's biometric release only (A holds the training one)."""
    from django.utils import timezone

    from datasetcards import services as datasets
    from tests.factories import LicenseeFactory

    licensee = LicenseeFactory()
    datasets.grant_license(
        licensee=licensee,
        dataset=world.biometric,
        purposes_allowed=["biometric"],
        derived_model_action="none",
        starts_on=terms.pop("starts_on", timezone.now().date()),
        releases=[world.biometric_release],
        **terms,
    )
    return licensee
