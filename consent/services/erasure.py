"""Erasure requests (GDPR Art. 17): filed by the speaker, carried out by propagation."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consent.models import (
    VALID_STATES,
    Consent,
    ErasureRequest,
    ErasureStatus,
    OutboxKind,
)
from consent.services.acts import _lock_speaker, announce, settle_lapsed, withdraw_row
from consent.services.checks import Actor, Evidence, check_actor, check_evidence_shape
from consent.services.sessions import close_participations_of_erased
from registry.models import Speaker


def request_erasure(*, speaker: Speaker, evidence: Evidence, actor: Actor) -> ErasureRequest:
    """File an erasure request: every consent in force is withdrawn in the same
    transaction (each with its own event and outbox row), and one outbox row asks
    propagation to delete the audio and finally the personal data.

    Idempotent for a request still open: asking twice returns the open request."""
    check_evidence_shape(evidence)
    check_actor(actor, evidence)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        open_request = (
            ErasureRequest.objects.filter(speaker=speaker)
            .exclude(status=ErasureStatus.COMPLETED)
            .first()
        )
        if open_request is not None:
            return open_request
        in_force = (
            Consent.objects.select_for_update(of=("self",))
            .filter(speaker=speaker, state__in=VALID_STATES)
            .select_related("notice", "session")
            .order_by("id")
        )
        for consent in in_force:
            # A consent that lapsed before the erasure is recorded as expired, not withdrawn.
            settle_lapsed(speaker, consent, at=at)
            if consent.state in VALID_STATES:
                withdraw_row(
                    speaker, consent, evidence=evidence, actor=actor, at=at, within_erasure=True
                )
        close_participations_of_erased(speaker=speaker, at=at)
        erasure = ErasureRequest.objects.create(
            speaker=speaker,
            actor_kind=actor.kind,
            actor_ref=actor.ref[:100],
            evidence_method=evidence.method,
            requested_at=at,
        )
        announce(
            erasure_request=erasure,
            kind=OutboxKind.ERASURE,
            payload={
                "erasure_request": str(erasure.public_id),
                "speaker": str(speaker.public_id),
                "effective_at": at.isoformat(),
            },
        )
        return erasure
