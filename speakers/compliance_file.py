"""The speaker page of the compliance admin: everything the registry holds about one
speaker, for answering "show every consent event for this person" in one place.

Personal data stays out of it: the contact details are decrypted only by
``reveal_contact``, which writes the access log row in the same transaction."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from consent.models import Consent, ConsentEvent, ConsentReceipt, ConsentSignature
from consent.staff_selectors import reconsent_by_notice, speaker_consents
from propagation.selectors import PropagationReport, propagation_reports, speaker_propagations
from registry.access_log import record_access
from registry.errors import InvalidInput
from registry.models import AccessAction, AccessLogEntry, Speaker
from speakers.selectors import (
    EarningsSummary,
    RecordingRow,
    earnings_summary,
    speaker_recordings,
)

REASON_MIN_LENGTH = 10


@dataclass(frozen=True)
class SpeakerFile:
    speaker: Speaker
    events: list[ConsentEvent]  # chain order, with ``has_signature`` and ``has_receipt``
    consents: list[Consent]
    reconsent: dict[int, bool]  # notice id → valid consents under it must be asked again
    recordings: list[RecordingRow]
    propagations: list[PropagationReport]
    earnings: EarningsSummary
    access_log: list[AccessLogEntry]  # who looked at this speaker's personal data


def speaker_events_with_evidence(*, speaker: Speaker) -> QuerySet[ConsentEvent]:
    """The speaker's events in chain order with the notice each was given under and
    whether a signature and a receipt back it (speaker columns never loaded)."""
    return (
        ConsentEvent.objects.filter(speaker_id=speaker.pk)
        .select_related("notice", "session")
        .annotate(
            has_signature=Exists(ConsentSignature.objects.filter(event_id=OuterRef("pk"))),
            has_receipt=Exists(ConsentReceipt.objects.filter(event_id=OuterRef("pk"))),
        )
        .order_by("seq")
    )


def speaker_file(*, speaker: Speaker, access_log_limit: int = 20) -> SpeakerFile:
    """One speaker's consent history, current states, recordings and the releases they
    are in, withdrawals and how far they went, earnings, and the latest accesses."""
    consents = list(speaker_consents(speaker=speaker))
    return SpeakerFile(
        speaker=speaker,
        events=list(speaker_events_with_evidence(speaker=speaker)),
        consents=consents,
        reconsent=reconsent_by_notice(consents),
        recordings=speaker_recordings(speaker=speaker),
        propagations=propagation_reports(list(speaker_propagations(speaker=speaker))),
        earnings=earnings_summary(speaker=speaker),
        access_log=list(
            AccessLogEntry.objects.filter(speaker_id=speaker.pk).order_by("-at", "-id")[
                :access_log_limit
            ]
        ),
    )


@dataclass(frozen=True)
class Contact:
    name: str | None
    email: str | None
    phone: str | None
    date_of_birth: datetime.date | None


def reveal_contact(*, request: HttpRequest, speaker_id: int, reason: str) -> Contact | None:
    """Decrypt one speaker's contact details and log who did, why and from where, in one
    transaction: no decrypted read without its record. None once the speaker was erased
    (the attempt is still logged)."""
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN_LENGTH:
        raise InvalidInput(
            f"say why you need the contact details (at least {REASON_MIN_LENGTH} characters)",
            field="reason",
        )
    with transaction.atomic():
        speaker = Speaker.objects.get(pk=speaker_id)
        record_access(
            request=request, action=AccessAction.CONTACT_VIEWED, speaker=speaker, reason=reason
        )
        if speaker.erased_at is not None:
            return None
        return Contact(speaker.name, speaker.email, speaker.phone, speaker.date_of_birth)
