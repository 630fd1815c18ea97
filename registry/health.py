"""Liveness of the two things the service cannot work without: PostgreSQL and the broker."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.utils import timezone
from kombu import Connection

from registry.selectors import latest_worker_heartbeat


@dataclass(frozen=True)
class ComponentStatus:
    ok: bool
    latency_ms: float
    # A short class of failure only: exception texts can carry hosts and credentials.
    error: str | None = None


def _timed(probe: Any) -> ComponentStatus:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return ComponentStatus(False, _ms_since(started), type(exc).__name__)
    return ComponentStatus(True, _ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _ping_broker() -> None:
    # The URL from Django settings, i.e. what the worker and beat are configured with.
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


def check_database() -> ComponentStatus:
    status = _timed(_ping_database)
    if not status.ok:
        # Drop the broken connection so the next request reconnects cleanly.
        with contextlib.suppress(DatabaseError):
            connection.close()
    return status


def check_broker() -> ComponentStatus:
    return _timed(_ping_broker)


def system_health() -> tuple[bool, dict[str, Any]]:
    """(healthy, report). Healthy means database and broker both answer."""
    database = check_database()
    broker = check_broker()
    report: dict[str, Any] = {
        "status": "ok" if database.ok and broker.ok else "unavailable",
        "database": asdict(database),
        "broker": asdict(broker),
    }
    if database.ok:
        # The worker is informational: a stale heartbeat degrades propagation, not the web.
        heartbeat = latest_worker_heartbeat()
        report["worker"] = {
            "last_heartbeat": heartbeat.beat_at.isoformat() if heartbeat else None,
            "age_seconds": round((timezone.now() - heartbeat.beat_at).total_seconds(), 1)
            if heartbeat
            else None,
        }
    return database.ok and broker.ok, report
