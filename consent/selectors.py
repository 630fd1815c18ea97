"""Reads of consent: the notice to serve, current states, who must re-consent,
session clearance. Eligibility has its own module (``consent.eligibility``)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from consent.eligibility import valid_consents
from consent.errors import NoticeUnavailable
from consent.models import (
    VALID_STATES,
    Consent,
    ConsentEvent,
    ConsentNotice,
    ConsentReceipt,
    IdempotencyRecord,
    NoticeStatus,
    ParticipantClosedReason,
    Purpose,
    RecordingSession,
    SessionParticipant,
)
from consent.rules import jurisdiction_chain, requirements_for
from registry.errors import NotFound
from registry.models import ApiToken, Campaign, Speaker, TokenKind

FALLBACK_LANGUAGE = "en"


def under_age_on_record(*, speaker: Speaker) -> bool:
    """Whether the speaker's own answer on an invitation showed them under age. No
    self-declared date of birth or platform attestation outweighs it, only a document
    check (the invitation's age answer and every act read this one rule)."""
    return SessionParticipant.objects.filter(
        speaker=speaker, closed_reason=ParticipantClosedReason.UNDER_AGE
    ).exists()


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
    # Why this participant can never consent for this call ("under_age", "erased"),
    # else "": a blocked participant never counts as consented.
    blocked: str = ""


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
        speaker_erased_at=F("speaker__erased_at"),
    ).order_by("channel")
    clearance = []
    for p in participants:
        blocked = p.closed_reason or (
            ParticipantClosedReason.ERASED if p.speaker_erased_at is not None else ""
        )
        clearance.append(
            ParticipantClearance(
                participant_id=str(p.public_id),
                speaker_id=str(p.speaker_public_id),
                channel=p.channel,
                consented=not blocked and p.consented_at is not None,
                consented_at=None if blocked else p.consented_at,
                blocked=blocked,
            )
        )
    return clearance


def cleared_to_record(session: RecordingSession, *, at: datetime.datetime | None = None) -> bool:
    """Every participant has given recording consent covering this session."""
    clearance = session_clearance(session, at=at)
    return bool(clearance) and all(p.consented for p in clearance)


# --- The collection platform's reads (API) -------------------------------------------

# Never loaded (nor decrypted) for the platform's endpoints: they answer ids and states.
PERSONAL_FIELDS = ("name", "email", "phone", "date_of_birth")


def get_speaker_for_collector(*, token: ApiToken, public_id: uuid.UUID) -> Speaker:
    """A speaker the platform's token may act for: every speaker, for a collector token
    (the platform enrols them all); nothing for any other kind of token."""
    speaker = (
        Speaker.objects.defer(*PERSONAL_FIELDS).filter(public_id=public_id).first()
        if token.kind == TokenKind.COLLECTOR
        else None
    )
    if speaker is None:
        raise NotFound("no such speaker")
    return speaker


def get_session_for_collector(*, token: ApiToken, public_id: uuid.UUID) -> RecordingSession:
    """A recording session of the platform (collector tokens only)."""
    session = (
        RecordingSession.objects.filter(public_id=public_id).first()
        if token.kind == TokenKind.COLLECTOR
        else None
    )
    if session is None:
        raise NotFound("no such session")
    return session


def notice_by_public_id(public_id: uuid.UUID) -> ConsentNotice | None:
    return ConsentNotice.objects.filter(public_id=public_id).first()


def session_by_public_id(public_id: uuid.UUID) -> RecordingSession | None:
    return RecordingSession.objects.filter(public_id=public_id).first()


@dataclass(frozen=True)
class NoticeForPlace:
    """The notice to show for one purpose in a place and language, or why there is none."""

    purpose: str
    notice: ConsentNotice | None
    unavailable: NoticeUnavailable | None = None


def notices_for_place(
    *, jurisdiction: str, language: str, purposes: list[str], at: datetime.datetime | None = None
) -> list[NoticeForPlace]:
    """What the platform must show a speaker living in ``jurisdiction`` who reads
    ``language``: ``current_notice`` for each purpose, with its language fallback."""
    at = at or timezone.now()
    # Only the place and the language decide which notice is served (never who).
    reader = Speaker(jurisdiction=jurisdiction, preferred_language=language)
    found = []
    for purpose in purposes:
        try:
            notice = current_notice(speaker=reader, purpose=purpose, at=at)
        except NoticeUnavailable as exc:
            found.append(NoticeForPlace(purpose, None, exc))
        else:
            found.append(NoticeForPlace(purpose, notice))
    return found


def general_consents(*, speaker: Speaker) -> dict[str, Consent]:
    """The speaker's consent per purpose for all recordings (not scoped to a session)."""
    rows = Consent.objects.filter(speaker=speaker, session__isnull=True).select_related(
        "notice", "last_event"
    )
    return {row.purpose: row for row in rows}


def receipts_of(*, events: list[ConsentEvent]) -> dict[int, dict[str, object]]:
    """The signed receipt envelope issued with each event, by event id."""
    return {
        receipt.event_id: {"receipt": receipt.document, "signature": receipt.signature}
        for receipt in ConsentReceipt.objects.filter(event__in=[e.pk for e in events])
    }


def recording_consent_since(
    *, session_ids: list[int], at: datetime.datetime
) -> dict[tuple[int, int], datetime.datetime | None]:
    """For every participant of these sessions, keyed by (session id, speaker id): since
    when a recording consent valid at ``at`` covers the session (the earliest
    ``given_at`` of the general or session-scoped ones), or None. A call recorded at
    ``t`` is covered when that moment is no later than ``t`` (as ``session_clearance``)."""
    scoped = valid_consents(purpose=Purpose.RECORDING, at=at).filter(
        Q(session__isnull=True) | Q(session=OuterRef("session_id")), speaker=OuterRef("speaker_id")
    )
    rows = (
        SessionParticipant.objects.filter(session_id__in=session_ids)
        .annotate(since=Subquery(scoped.order_by("given_at").values("given_at")[:1]))
        .values_list("session_id", "speaker_id", "since")
    )
    return {(session_id, speaker_id): since for session_id, speaker_id, since in rows}


def idempotency_record(*, namespace: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(namespace=namespace, key=key).first()


def speakers_by_public_id(public_ids: list[uuid.UUID]) -> dict[uuid.UUID, Speaker]:
    speakers = Speaker.objects.defer(*PERSONAL_FIELDS).filter(public_id__in=public_ids)
    return {s.public_id: s for s in speakers}


def campaign_by_slug(slug: str) -> Campaign | None:
    return Campaign.objects.filter(slug=slug).first()


def session_participants(*, session: RecordingSession) -> list[SessionParticipant]:
    """The session's participants in channel order, with their speakers."""
    participants = list(session.participants.select_related("speaker").order_by("channel"))
    for participant in participants:
        participant.session = session
    return participants
