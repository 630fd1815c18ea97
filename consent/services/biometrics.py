"""Voiceprint templates: enrolled only under valid biometric consent, kept no longer
than the rules allow (BIPA 740 ILCS 14/15(a): until the purpose is met or 3 years after
the speaker's last interaction, whichever is first). Destruction is propagation's."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from consent.errors import ConsentError
from consent.models import Consent, Purpose
from consent.rules import requirements_for
from consent.services.acts import _lock_speaker
from registry.errors import InvalidInput
from registry.models import Speaker, VoiceprintTemplate
from registry.services import stored_object


class BiometricConsentMissing(ConsentError):
    code = "biometric_consent_missing"
    status = 409


def _retention_days(speaker: Speaker, at: datetime.datetime) -> int:
    rule = requirements_for(jurisdiction=speaker.jurisdiction, purpose=Purpose.BIOMETRIC, at=at)
    days = settings.VOICEPRINT_RETENTION_DAYS
    return min(days, rule.retention_days) if rule.retention_days else days


def _retention_until(
    speaker: Speaker, last_interaction: datetime.datetime, purpose_met: datetime.datetime | None
) -> datetime.datetime:
    until = last_interaction + datetime.timedelta(days=_retention_days(speaker, last_interaction))
    return min(until, purpose_met) if purpose_met else until


def enroll_voiceprint(*, speaker: Speaker, template: bytes) -> VoiceprintTemplate:
    """Store a biometric template for a speaker whose biometric consent is in force."""
    if not template:
        raise InvalidInput("template is empty", field="template")
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Under the speaker lock every consent act takes: a withdrawal commits either
        # before this check (refused) or after the template exists (its plan finds it).
        speaker = _lock_speaker(speaker)
        consent = Consent.objects.filter(
            speaker=speaker, purpose=Purpose.BIOMETRIC, session__isnull=True
        ).first()
        if consent is None or not consent.in_force_at(now):
            raise BiometricConsentMissing("the speaker's biometric consent is not in force")
        row = VoiceprintTemplate(
            speaker=speaker,
            template_sha256=hashlib.sha256(template).hexdigest(),
            created_at=now,
            last_interaction_at=now,
            retention_until=_retention_until(speaker, now, None),
        )
        with stored_object(f"voiceprints/{row.public_id}.bin", template) as name:
            row.storage_name = name
            row.save()
    return row


def destruction_deadline(*, withdrawn_at: datetime.datetime) -> datetime.datetime:
    """By when a voiceprint whose biometric consent was withdrawn at ``withdrawn_at`` is
    destroyed at the latest. The withdrawal's plan (``propagation.planning``) gives
    every live template a destruction target, delivered at once, and makes it due for
    the retention job (its purpose ended with the consent), which runs every
    ``voiceprint-retention`` interval: whichever comes first destroys it."""
    interval = settings.CELERY_BEAT_SCHEDULE["voiceprint-retention"]["schedule"]
    return withdrawn_at + datetime.timedelta(seconds=float(interval))


@dataclass(frozen=True)
class VoiceprintDestruction:
    """What a general biometric withdrawal does to the speaker's voiceprints."""

    templates: int  # live templates it destroys
    destroyed_by: datetime.datetime | None  # None when there is none to destroy


def voiceprint_destruction(
    *, speaker: Speaker, withdrawn_at: datetime.datetime | None = None
) -> VoiceprintDestruction:
    """The voiceprints a general biometric withdrawal at ``withdrawn_at`` (default: now)
    destroys, and by when (``destruction_deadline``): what its confirmation states."""
    withdrawn_at = withdrawn_at or timezone.now()
    live = VoiceprintTemplate.objects.filter(speaker=speaker, destroyed_at__isnull=True).count()
    return VoiceprintDestruction(
        templates=live,
        destroyed_by=destruction_deadline(withdrawn_at=withdrawn_at) if live else None,
    )


def _live(template: VoiceprintTemplate) -> VoiceprintTemplate:
    """The template, locked; refused once destroyed (destruction is final)."""
    locked = VoiceprintTemplate.objects.select_for_update().get(pk=template.pk)
    if locked.destroyed_at is not None:
        raise InvalidInput("this template was destroyed", field="template")
    return locked


def record_voiceprint_interaction(
    *, template: VoiceprintTemplate, at: datetime.datetime | None = None
) -> VoiceprintTemplate:
    """The speaker used the template (e.g. a verification): the 3 years restart."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        locked = _live(template)
        locked.last_interaction_at = max(locked.last_interaction_at, at)
        locked.retention_until = _retention_until(
            locked.speaker, locked.last_interaction_at, locked.purpose_met_at
        )
        locked.save(update_fields=["last_interaction_at", "retention_until"])
    return locked


def mark_voiceprint_purpose_met(
    *, template: VoiceprintTemplate, at: datetime.datetime | None = None
) -> VoiceprintTemplate:
    """The purpose the template was collected for is satisfied: it is due now."""
    at = at or timezone.now()
    with transaction.atomic(durable=True):
        locked = _live(template)
        locked.purpose_met_at = at
        locked.retention_until = min(locked.retention_until, at)
        locked.save(update_fields=["purpose_met_at", "retention_until"])
    return locked
