"""Celery tasks of propagation: thin wrappers that take ids and call the services.

``deliver_target`` acknowledges its message only after it returns (``acks_late``) and
gives it back if its worker dies (``reject_on_worker_lost``), so a SIGKILL mid-delivery
means redelivery, and the claim in ``services.deliver`` makes the redelivery resume
rather than repeat (the licensee sees the same Idempotency-Key)."""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task

from propagation import services


@shared_task(
    name="propagation.tasks.deliver_target",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Well inside PROPAGATION_LEASE_SECONDS: a delivery never outlives its claim.
    soft_time_limit=120,
    time_limit=150,
)
def deliver_target(self: Any, target_id: int) -> str:
    outcome = services.deliver(
        target_id=target_id,
        token=str(self.request.id or f"local-{target_id}"),
        worker=self.request.hostname or socket.gethostname(),
    )
    if outcome.retry_in is not None:
        # A new message (new claim token) after the backoff; the sweep re-sends it if
        # this one is lost.
        self.apply_async(args=(target_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="propagation.tasks.publish", acks_late=True, reject_on_worker_lost=True)
def publish(outbox_ids: list[int] | None = None) -> int:
    """Fan the targets of freshly committed outbox rows out to delivery tasks."""
    return services.publish(outbox_ids=outbox_ids)


@shared_task(name="propagation.tasks.sweep")
def sweep() -> int:
    return services.sweep()


@shared_task(name="propagation.tasks.flag_overdue_acknowledgements")
def flag_overdue_acknowledgements() -> int:
    return services.flag_overdue_acknowledgements()


@shared_task(name="propagation.tasks.destroy_due_voiceprints")
def destroy_due_voiceprints() -> int:
    return services.destroy_due_voiceprints()
