"""Verifying the audit chain on staff's request: a ``ChainVerification`` row, a Celery
task that runs ``consent.chain.verify_chain`` and records its progress and verdict."""

from __future__ import annotations

import logging
import threading

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from consent import chain
from consent.models import ChainHead, ChainVerification, VerificationStatus

logger = logging.getLogger(__name__)


def request_chain_verification(*, requested_by: str) -> ChainVerification:
    """Queue a verification (sent to a worker after commit)."""
    from consent import tasks  # tasks import services

    head = ChainHead.objects.filter(pk=1).first()
    verification = ChainVerification.objects.create(
        requested_by=requested_by[:150],
        requested_at=timezone.now(),
        total=head.seq if head else 0,
    )
    transaction.on_commit(lambda: tasks.verify_audit_chain.delay(verification.pk))
    return verification


def run_chain_verification(*, verification_id: int) -> ChainVerification:
    """Recompute the chain, counting progress as ranges finish, and store the verdict.
    Idempotent: a redelivered task re-runs only a verification not finished yet."""
    claimed = ChainVerification.objects.filter(
        pk=verification_id,
        status__in=[VerificationStatus.QUEUED, VerificationStatus.RUNNING],
    ).update(status=VerificationStatus.RUNNING, checked=0)
    if not claimed:
        return ChainVerification.objects.get(pk=verification_id)

    # Progress goes through a connection of its own: the verification reads in one
    # read-only snapshot (and from several threads), where nothing may be written.
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    side.inc_thread_sharing()
    lock = threading.Lock()

    def progress(events: int) -> None:
        with lock, side.cursor() as cursor:
            cursor.execute(
                "UPDATE consent_chainverification SET checked = checked + %s WHERE id = %s",
                [events, verification_id],
            )

    try:
        report = chain.verify_chain(on_batch=progress)
    except Exception:
        logger.exception("chain verification %s could not run", verification_id)
        ChainVerification.objects.filter(pk=verification_id).update(
            status=VerificationStatus.FAILED, finished_at=timezone.now()
        )
        raise
    finally:
        side.dec_thread_sharing()
        side.close()
    problems = [report.problem, *report.checkpoint_problems]
    ChainVerification.objects.filter(pk=verification_id).update(
        status=VerificationStatus.OK if report.ok else VerificationStatus.BROKEN,
        finished_at=timezone.now(),
        events_checked=report.events_checked,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        checkpoints_checked=report.checkpoints_checked,
        problems="\n".join(p for p in problems if p),
    )
    return ChainVerification.objects.get(pk=verification_id)
