"""Scheduled consent work (beat): expiries and signed audit checkpoints."""

from __future__ import annotations

from celery import shared_task

from consent import chain, services


@shared_task(name="consent.tasks.expire_consents")
def expire_consents() -> int:
    """Turn consents past their expiry into expired events (idempotent, SKIP LOCKED)."""
    return services.expire_consents()


@shared_task(name="consent.tasks.write_audit_checkpoint")
def write_audit_checkpoint() -> int:
    """Sign the chain head; the daily checkpoint makes silent rewriting detectable."""
    return chain.write_checkpoint().seq
