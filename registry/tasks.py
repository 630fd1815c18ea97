"""Celery tasks of the catalogue: thin wrappers around services."""

from __future__ import annotations

from celery import Task, shared_task

from registry import services


@shared_task(bind=True, name="registry.tasks.record_worker_heartbeat")
def record_worker_heartbeat(self: Task, name: str = "celery") -> str:
    """Scheduled by beat; its row shows staff and /healthz that a worker consumes tasks."""
    heartbeat = services.record_worker_heartbeat(
        name=name, hostname=self.request.hostname or "unknown"
    )
    return heartbeat.beat_at.isoformat()
