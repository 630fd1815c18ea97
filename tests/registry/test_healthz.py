from __future__ import annotations

import datetime

import pytest
from django.db.utils import OperationalError
from django.utils import timezone

from registry import health
from registry.celery import app as celery_app
from registry.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_is_200_with_database_and_broker_up(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_uses_the_real_redis_broker_in_tests() -> None:
    assert celery_app.conf.broker_url.startswith("redis://")


def test_healthz_is_503_when_the_broker_is_unreachable(client, settings) -> None:
    # Nothing listens on port 1: the connection is refused, as with a dead Redis.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"]["ok"] is False
    assert body["database"]["ok"] is True
    # The failure class only: no host, port or credentials from the exception text.
    assert "127.0.0.1" not in response.content.decode()


def test_healthz_is_503_when_the_database_is_unreachable(client, monkeypatch) -> None:
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_ping_database", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == {
        "ok": False,
        "latency_ms": body["database"]["latency_ms"],
        "error": "OperationalError",
    }
    assert "worker" not in body


def test_healthz_reports_the_age_of_the_last_worker_heartbeat(client) -> None:
    WorkerHeartbeat.objects.create(
        name="celery", beat_at=timezone.now() - datetime.timedelta(seconds=42), hostname="w@h"
    )
    body = client.get("/healthz").json()
    assert 41 <= body["worker"]["age_seconds"] < 60


def test_healthz_refuses_post(client) -> None:
    assert client.post("/healthz").status_code == 405
