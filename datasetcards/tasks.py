"""Release builds run on the worker (large manifests take a while)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import DatabaseError

from datasetcards import services

logger = logging.getLogger(__name__)


@shared_task(
    name="datasetcards.tasks.build_release",
    bind=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=10,
    retry_jitter=True,
    max_retries=5,
)
def build_release(self: Any, release_id: int) -> str:
    """Idempotent: a retry or a second delivery finds the work done and stops."""
    try:
        return services.build_release(release_id=release_id).status
    except DatabaseError:
        if self.request.retries >= 5:
            services.mark_release_failed(release_id=release_id, error="database errors")
        raise  # retried with backoff
    except Exception as exc:
        # Anything else will not fix itself: record it so the dataset is not blocked.
        logger.exception("release %s build failed", release_id)
        services.mark_release_failed(release_id=release_id, error=type(exc).__name__)
        raise
