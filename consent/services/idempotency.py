"""Stored answers to writes made with an ``Idempotency-Key`` (see ``consent.api.
idempotency`` for the HTTP side): written in the caller's transaction, purged a day on."""

from __future__ import annotations

import datetime

from django.db import connection
from django.utils import timezone

from consent.models import IdempotencyRecord

# A retry within this long gets the stored answer; after it the key may be purged.
RETENTION = datetime.timedelta(hours=24)


def record_idempotent_response(
    *, namespace: str, key: str, request_sha256: str, status: int, response_json: str
) -> IdempotencyRecord:
    """Keep the answer to the first request with ``key``, inside the caller's (the act's)
    transaction. The unique (namespace, key) index makes a concurrent twin wait for
    this transaction and then fail, which rolls the twin's act back: one act per key."""
    now = timezone.now()
    return IdempotencyRecord.objects.create(
        namespace=namespace,
        key=key,
        request_sha256=request_sha256,
        response_status=status,
        response_json=response_json,
        created_at=now,
        expires_at=now + RETENTION,
    )


def stored_answer(record: IdempotencyRecord) -> str:
    """The JSON answer a record keeps (decrypted by its field)."""
    return record.response_json


def hold_key(*, namespace: str, key: str) -> None:
    """Serialise requests carrying the same key until the holder's transaction ends: a
    twin then finds the first one's stored answer instead of racing its act."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"idem:{namespace}:{key}"]
        )


def purge_expired_idempotency_records(
    *, at: datetime.datetime | None = None, batch_size: int = 5000
) -> int:
    """Delete stored answers past their retention, in short batches (safe to run from
    two schedulers at once: a row deleted twice is simply gone)."""
    at = at or timezone.now()
    purged = 0
    while True:
        ids = list(
            IdempotencyRecord.objects.filter(expires_at__lte=at)
            .order_by("expires_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
