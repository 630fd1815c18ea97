"""Scheduled consent work (beat): expiries, signed audit checkpoints, and the purge of
the collection API's stored idempotent answers."""

from __future__ import annotations

from celery import shared_task

from consent import chain, services
from consent.services.idempotency import purge_expired_idempotency_records


@shared_task(name="consent.tasks.expire_consents")
def expire_consents() -> int:
    """Turn consents past their expiry into expired events (idempotent, SKIP LOCKED)."""
    return services.expire_consents()


@shared_task(name="consent.tasks.write_audit_checkpoint")
def write_audit_checkpoint() -> int:
    """Sign the chain head; the daily checkpoint makes silent rewriting detectable."""
    return chain.write_checkpoint().seq


@shared_task(name="consent.tasks.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Forget stored answers to Idempotency-Keys older than their retention."""
    return purge_expired_idempotency_records()


@shared_task(name="consent.tasks.verify_audit_chain", acks_late=True)
def verify_audit_chain(verification_id: int) -> str:
    """Run a verification staff asked for in the admin; its row holds the verdict."""
    from consent.services.audit import run_chain_verification

    return str(run_chain_verification(verification_id=verification_id).status)
