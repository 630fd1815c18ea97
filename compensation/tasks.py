"""Beat-scheduled accrual sweep (idempotent: it only writes what is missing)."""

from __future__ import annotations

from celery import shared_task

from compensation import services


@shared_task(acks_late=True)
def accrue_earnings() -> int:
    return services.accrue_earnings()
