"""Reads of consent: the notice to serve, current states, who must re-consent,
session clearance. Eligibility has its own module (``consent.eligibility``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from consent.eligibility import valid_consents
from consent.errors import NoticeUnavailable
from consent.models import (
    VALID_STATES,
    Consent,
    ConsentNotice,
    NoticeStatus,
    Purpose,
    RecordingSession,
)
from consent.rules import jurisdiction_chain, requirements_for
from registry.models import Speaker

FALLBACK_LANGUAGE = "en"


def current_notice(
    *,
    speaker: Speaker,
    purpose: str,
    language: str | None = None,
    at: datetime.datetime | None = None,
) -> ConsentNotice:
    """The notice to serve: active, for the most specific jurisdiction of the speaker
    that has one, newest version, in ``language`` (default: the speaker's). English is
    the fallback only where no rule demands the speaker's own language."""
    at = at or timezone.now()
    language = language or speaker.preferred_language
    chain = jurisdiction_chain(speaker.jurisdiction)
    candidates = list(
        ConsentNotice.objects.filter(
            purpose=purpose, jurisdiction_id__in=chain, status=NoticeStatus.ACTIVE
        ).order_by("-version")
    )

    def best(lang: str) -> ConsentNotice | None:
        for code in chain:
            for notice in candidates:
                if notice.jurisdiction_id == code and notice.language == lang:
                    return notice
        return None

    if notice := best(language):
        return notice
    requirements = requirements_for(jurisdiction=speaker.jurisdiction, purpose=purpose, at=at)
    if requirements.notice_in_speaker_language:
        raise NoticeUnavailable(
            f"no {purpose} notice in {language!r} for {speaker.jurisdiction}; "
            "the law there requires the speaker's language",
            field="language",
        )
    if notice := best(FALLBACK_LANGUAGE):
        return notice
    raise NoticeUnavailable(f"no active {purpose} notice for {speaker.jurisdiction}")


def consents_needing_reconsent(*, notice: ConsentNotice) -> QuerySet[Consent]:
    """Valid consents given under an earlier version of ``notice``'s text: they still
    stand (no one is re-consented silently), but the speaker must be asked again."""
    return Consent.objects.filter(
        state__in=VALID_STATES,
        purpose=notice.purpose,
        notice__jurisdiction_id=notice.jurisdiction_id,
        notice__language=notice.language,
        notice__version__lt=notice.version,
    )


def needs_reconsent(consent: Consent) -> bool:
    """True when a newer active version of the notice the consent was given under exists."""
    if consent.state not in VALID_STATES:
        return False
    return ConsentNotice.objects.filter(
        purpose=consent.purpose,
        jurisdiction_id=consent.notice.jurisdiction_id,
        language=consent.notice.language,
        version__gt=consent.notice.version,
        status=NoticeStatus.ACTIVE,
    ).exists()


@dataclass(frozen=True)
class ParticipantClearance:
    participant_id: str
    speaker_id: str
    channel: int
    consented: bool
    consented_at: datetime.datetime | None


def session_clearance(
    session: RecordingSession, *, at: datetime.datetime | None = None
) -> list[ParticipantClearance]:
    """Who has given recording consent covering this session, and who is awaited."""
    at = at or timezone.now()
    scoped = valid_consents(purpose=Purpose.RECORDING, at=at).filter(
        Q(session__isnull=True) | Q(session=session), speaker=OuterRef("speaker")
    )
    participants = session.participants.annotate(
        consented_at=Subquery(scoped.order_by("given_at").values("given_at")[:1]),
        speaker_public_id=F("speaker__public_id"),
    ).order_by("channel")
    return [
        ParticipantClearance(
            participant_id=str(p.public_id),
            speaker_id=str(p.speaker_public_id),
            channel=p.channel,
            consented=p.consented_at is not None,
            consented_at=p.consented_at,
        )
        for p in participants
    ]


def cleared_to_record(session: RecordingSession, *, at: datetime.datetime | None = None) -> bool:
    """Every participant has given recording consent covering this session."""
    clearance = session_clearance(session, at=at)
    return bool(clearance) and all(p.consented for p in clearance)
