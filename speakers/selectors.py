"""Reads for the speaker portal. Every object reaches a view through a
``get_<thing>_for_speaker`` helper that filters by the signed-in speaker and raises
``NotFound`` otherwise, so one speaker can never open another's receipt or recording."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from compensation.models import LedgerEntry
from compensation.selectors import balances, earned_hours
from consent.eligibility import (
    LatestFact,
    ParticipantVerdict,
    Usability,
    explain_eligibility,
    recording_usability,
)
from consent.errors import ConsentError
from consent.models import (
    VALID_STATES,
    Consent,
    ConsentEvent,
    ConsentNotice,
    ConsentOutbox,
    ConsentReceipt,
    ErasureRequest,
    ErasureStatus,
    EvidenceMethod,
    NoticeStatus,
    OutboxKind,
    Purpose,
)
from consent.rules import Requirements, jurisdiction_chain, requirements_for
from consent.selectors import current_notice, needs_reconsent
from consent.services.biometrics import VoiceprintDestruction, voiceprint_destruction
from datasetcards.models import ReleaseItem
from datasetcards.selectors import PUBLISHED
from propagation.models import PropagationTarget, TargetKind
from propagation.selectors import Progress, progress_by_outbox
from registry.errors import NotFound
from registry.models import Recording, Speaker, Track
from speakers.models import SpeakerAccount


def speaker_of(user: AbstractBaseUser | AnonymousUser) -> Speaker | None:
    """The speaker a signed-in user is, or None for staff and anonymous users."""
    if not user.is_authenticated:
        return None
    account = SpeakerAccount.objects.select_related("speaker").filter(user_id=user.pk).first()
    if account is None or account.speaker.erased_at is not None:
        return None
    return account.speaker


def notice_to_serve(*, speaker: Speaker, purpose: str, language: str) -> ConsentNotice:
    """The notice in the language the speaker reads the page in when one is allowed
    there, else in the speaker's own language (the law may demand it), else English."""
    try:
        return current_notice(speaker=speaker, purpose=purpose, language=language)
    except ConsentError:
        return current_notice(speaker=speaker, purpose=purpose)


def speaker_languages(*, speaker: Speaker) -> list[str]:
    """The languages the speaker may use the portal, invitation pages, emails, receipts
    and statements in: those of ``settings.LANGUAGES`` in which the notices in force for
    their jurisdiction chain cover every purpose asked there, so a page in an offered
    language always has its notice in that language too. Never empty."""
    try:
        chain = jurisdiction_chain(speaker.jurisdiction)
    except ConsentError:
        return [settings.LANGUAGE_CODE]
    by_purpose: dict[str, set[str]] = {}
    for purpose, language in (
        ConsentNotice.objects.filter(jurisdiction_id__in=chain, status=NoticeStatus.ACTIVE)
        .values_list("purpose", "language")
        .distinct()
    ):
        by_purpose.setdefault(purpose, set()).add(language)
    offered = [
        code
        for code, _name in settings.LANGUAGES
        if all(code in languages for languages in by_purpose.values())
    ]
    return offered or [settings.LANGUAGE_CODE]


def _offered(language: str | None, offered: list[str]) -> str | None:
    base = (language or "").split("-")[0].lower()
    return base if base in offered else None


def portal_language(*, speaker: Speaker, chosen: str | None = None) -> str:
    """The language the portal (and what it sends: emails, receipts, statements) speaks
    to the speaker: the one they chose with the switcher, else their preferred language,
    else the default, each only when offered to them (``speaker_languages``). The
    browser's language is never used: the speaker told us theirs."""
    offered = speaker_languages(speaker=speaker)
    return (
        _offered(chosen, offered)
        or _offered(speaker.preferred_language, offered)
        or _offered(settings.LANGUAGE_CODE, offered)
        or offered[0]
    )


def invitation_language(*, speaker: Speaker, session_language: str, chosen: str | None) -> str:
    """The language of an invitation page: the one the invitee chose with the switcher,
    else the session's (the call's language, which the operator names per invitee),
    else the invitee's own, each only when offered to them; never the browser's."""
    offered = speaker_languages(speaker=speaker)
    return (
        _offered(chosen, offered)
        or _offered(session_language, offered)
        or _offered(speaker.preferred_language, offered)
        or _offered(settings.LANGUAGE_CODE, offered)
        or offered[0]
    )


def evidence_method_for(purpose: str, requirements: Requirements) -> str | None:
    """How the web form captures the act: one click, or a typed-name signature where
    the law asks for written consent (and always for biometric data). None when only
    paper or a spoken phrase will do."""
    allowed = requirements.allowed_methods
    if purpose != Purpose.BIOMETRIC and EvidenceMethod.WEB_FORM in allowed:
        return EvidenceMethod.WEB_FORM
    if EvidenceMethod.WEB_FORM_SIGNED in allowed:
        return EvidenceMethod.WEB_FORM_SIGNED
    return None


@dataclass
class ConsentCard:
    purpose: str
    notice: ConsentNotice | None
    requirements: Requirements
    evidence_method: str | None
    consent: Consent | None = None
    per_call_in_force: int = 0
    needs_reconsent: bool = False
    # A domain error code (``wording.ERROR_MESSAGE`` says it in the reader's language).
    unavailable_code: str = ""
    erasure_pending: bool = False
    # Biometric only: the voiceprints a withdrawal now would destroy, and by when.
    voiceprints: VoiceprintDestruction | None = None

    @property
    def in_force(self) -> bool:
        return self.consent is not None and self.consent.in_force_at(timezone.now())

    @property
    def state(self) -> str | None:
        return self.consent.state if self.consent else None

    @property
    def written(self) -> bool:
        return self.evidence_method == EvidenceMethod.WEB_FORM_SIGNED

    @property
    def can_give(self) -> bool:
        return (
            self.notice is not None
            and self.evidence_method is not None
            and not self.in_force
            and not self.erasure_pending
        )

    @property
    def can_renew(self) -> bool:
        return (
            self.in_force
            and self.needs_reconsent
            and self.notice is not None
            and self.evidence_method is not None
            and not self.erasure_pending
        )

    @property
    def can_withdraw(self) -> bool:
        return self.in_force or self.per_call_in_force > 0


def consent_card(*, speaker: Speaker, purpose: str, language: str) -> ConsentCard:
    at = timezone.now()
    requirements = requirements_for(jurisdiction=speaker.jurisdiction, purpose=purpose, at=at)
    card = ConsentCard(
        purpose=purpose,
        notice=None,
        requirements=requirements,
        evidence_method=evidence_method_for(purpose, requirements),
    )
    try:
        card.notice = notice_to_serve(speaker=speaker, purpose=purpose, language=language)
    except ConsentError as exc:
        card.unavailable_code = exc.code
    card.erasure_pending = erasure_pending(speaker=speaker)
    scopes = list(Consent.objects.filter(speaker=speaker, purpose=purpose).select_related("notice"))
    card.consent = next((c for c in scopes if c.session_id is None), None)
    if purpose == Purpose.BIOMETRIC:
        card.voiceprints = voiceprint_destruction(speaker=speaker, withdrawn_at=at)
    card.per_call_in_force = sum(1 for c in scopes if c.session_id and c.in_force_at(at))
    if card.consent is not None:
        card.needs_reconsent = needs_reconsent(card.consent)
    return card


def erasure_pending(*, speaker: Speaker) -> bool:
    return (
        ErasureRequest.objects.filter(speaker=speaker)
        .exclude(status=ErasureStatus.COMPLETED)
        .exists()
    )


def consent_cards(*, speaker: Speaker, language: str) -> list[ConsentCard]:
    """One card per purpose, in a fixed order; nothing is preselected."""
    return [
        consent_card(speaker=speaker, purpose=purpose, language=language)
        for purpose in Purpose.values
    ]


def speaker_events(*, speaker: Speaker) -> QuerySet[ConsentEvent]:
    """The speaker's consent history, newest first (requests are shown too)."""
    return (
        ConsentEvent.objects.filter(speaker=speaker)
        .select_related("notice", "session")
        .order_by("-seq")
    )


def get_event_for_speaker(*, speaker: Speaker, public_id: UUID | str) -> ConsentEvent:
    event = (
        ConsentEvent.objects.filter(speaker=speaker, public_id=public_id)
        .select_related("notice", "speaker", "session")
        .first()
    )
    if event is None:
        raise NotFound("no such consent event")
    return event


@dataclass(frozen=True)
class ReleaseMention:
    dataset: str
    version: str
    status: str


@dataclass(frozen=True)
class CallRemoval:
    """The speaker's channel of a call was destroyed for another participant's act: the
    call was not isolated at source, so it carried their voice too. Names no one."""

    cause: str  # OutboxKind: erasure (right to erasure) or withdrawal (of recording)
    requested_at: datetime.datetime  # when the other participant acted
    removed_at: datetime.datetime | None  # when the channel was destroyed (None: pending)


@dataclass
class RecordingRow:
    recording: Recording
    channel: int
    participants: int
    usability: dict[str, Usability] = field(default_factory=dict)
    releases: list[ReleaseMention] = field(default_factory=list)
    removal: CallRemoval | None = None
    # Only on the recording's own page (``get_recording_for_speaker``): per purpose it
    # may not be used for, whose consent blocks it and why.
    blockers: dict[str, list[Blocker]] = field(default_factory=dict)

    @property
    def others(self) -> list[int]:
        """The other participants' positions (1-based): never a name or an id."""
        return [n + 1 for n in range(self.participants) if n != self.channel]


def speaker_recordings(*, speaker: Speaker) -> list[RecordingRow]:
    """Each recording the speaker is on, newest first, with its usability per purpose."""
    tracks = list(
        Track.objects.filter(speaker=speaker)
        .select_related("recording")
        .annotate(participants=Count("recording__tracks"))
        .order_by("-recording__recorded_at", "-recording_id")
    )
    ids = [t.recording_id for t in tracks]
    usability = recording_usability(speaker_id=speaker.pk, recording_ids=ids)
    releases = releases_of(ids)
    removals = removals_by_others(speaker=speaker, recording_ids=ids)
    return [
        RecordingRow(
            recording=t.recording,
            channel=t.channel,
            participants=t.participants,
            usability=usability.get(t.recording_id, {}),
            releases=releases.get(t.recording_id, []),
            removal=removals.get(t.recording_id),
        )
        for t in tracks
    ]


def removals_by_others(*, speaker: Speaker, recording_ids: list[int]) -> dict[int, CallRemoval]:
    """The calls whose channel of this speaker another participant's erasure (or
    withdrawal of recording consent) destroys: partner-channel audio targets on the
    speaker's own tracks (``propagation.planning``). The first such act per call; one
    query. The ledger is not touched: what the speaker earned for the call stays."""
    rows = (
        PropagationTarget.objects.filter(
            kind=TargetKind.AUDIO,
            track__speaker=speaker,
            track__recording_id__in=recording_ids,
        )
        .exclude(propagation__speaker=speaker)
        .values_list(
            "track__recording_id",
            "propagation__kind",
            "propagation__effective_at",
            "track__tombstone__deleted_at",
        )
        .order_by("propagation__effective_at", "pk")
    )
    found: dict[int, CallRemoval] = {}
    for recording_id, cause, requested_at, removed_at in rows:
        found.setdefault(recording_id, CallRemoval(cause, requested_at, removed_at))
    return found


def releases_of(recording_ids: list[int]) -> dict[int, list[ReleaseMention]]:
    """The published releases each recording is frozen into (one query)."""
    rows = (
        ReleaseItem.objects.filter(recording_id__in=recording_ids, release__status__in=PUBLISHED)
        .values_list(
            "recording_id", "release__dataset__name", "release__version", "release__status"
        )
        .distinct()
        .order_by("recording_id", "release__dataset__name", "release__version")
    )
    found: dict[int, list[ReleaseMention]] = {}
    for recording_id, dataset, version, status in rows:
        found.setdefault(recording_id, []).append(ReleaseMention(dataset, version, status))
    return found


def get_recording_for_speaker(*, speaker: Speaker, public_id: UUID | str) -> RecordingRow:
    track = (
        Track.objects.filter(speaker=speaker, recording__public_id=public_id)
        .select_related("recording")
        .annotate(participants=Count("recording__tracks"))
        .first()
    )
    if track is None:
        raise NotFound("no such recording")
    row = RecordingRow(
        recording=track.recording,
        channel=track.channel,
        participants=track.participants,
        usability=recording_usability(speaker_id=speaker.pk, recording_ids=[track.recording_id])[
            track.recording_id
        ],
        releases=releases_of([track.recording_id]).get(track.recording_id, []),
        removal=removals_by_others(speaker=speaker, recording_ids=[track.recording_id]).get(
            track.recording_id
        ),
    )
    row.blockers = why_not_usable(speaker=speaker, row=row)
    return row


@dataclass(frozen=True)
class Blocker:
    """Why one participant's consent does not cover a purpose for a call: their most
    recent fact (``consent.eligibility.latest_fact``, the rule every reason text uses).
    Another participant's fact is told only when it is an erasure (the call leaves for
    it); their other choices stay theirs ("does not cover it")."""

    position: int  # 1-based place in the call
    own: bool
    purpose: str  # the consent the fact is about (recording, or the purpose asked)
    # erasure | withdrawn | refused | expired | requested | none | after_call | not_covered
    fact: str
    on: datetime.date | None = None


def _blocker(
    verdict: ParticipantVerdict, fact: LatestFact | None, *, purpose: str, own: bool
) -> Blocker:
    position = verdict.channel + 1
    if fact is not None and fact.erasure_requested_at is not None:
        return Blocker(position, own, purpose, "erasure", fact.erasure_requested_at.date())
    if not own:
        return Blocker(position, own, purpose, "not_covered")
    consent = fact.consent if fact is not None else None
    if consent is None:
        return Blocker(position, own, purpose, "none")
    if consent.state in VALID_STATES:
        if consent.expires_at is not None and consent.expires_at <= timezone.now():
            return Blocker(position, own, purpose, "expired", consent.expires_at.date())
        if purpose == Purpose.RECORDING and consent.given_at is not None:
            return Blocker(position, own, purpose, "after_call", consent.given_at.date())
        return Blocker(position, own, purpose, "none")
    return Blocker(position, own, purpose, consent.state, consent.state_since.date())


def why_not_usable(*, speaker: Speaker, row: RecordingRow) -> dict[str, list[Blocker]]:
    """For each purpose the call may not be used for: whose consent blocks it and their
    latest fact (the speaker's own in full; another's only if it is an erasure)."""
    found: dict[str, list[Blocker]] = {}
    for purpose, usability in row.usability.items():
        if usability.eligible:
            continue
        explanation = explain_eligibility(row.recording, purpose)
        blockers: list[Blocker] = []
        for verdict in explanation.participants:
            own = verdict.channel == row.channel
            if not verdict.recording_consent_ok:
                blockers.append(
                    _blocker(verdict, verdict.recording_fact, purpose=Purpose.RECORDING, own=own)
                )
            elif not verdict.purpose_ok:
                blockers.append(_blocker(verdict, verdict.purpose_fact, purpose=purpose, own=own))
        found[purpose] = blockers
    return found


@dataclass(frozen=True)
class WithdrawalStatus:
    event: ConsentEvent
    published_at: datetime.datetime | None
    progress: Progress
    within_erasure: bool = False  # carried by the erasure request's own propagation


def withdrawal_statuses(*, speaker: Speaker) -> list[WithdrawalStatus]:
    """The speaker's withdrawals and expiries and how far propagation has taken them
    ("reached 12 of 14")."""
    rows = list(
        ConsentOutbox.objects.filter(event__speaker=speaker)
        .exclude(kind=OutboxKind.ERASURE)
        .select_related("event", "event__session")
        .order_by("-event__seq")
    )
    progress = progress_by_outbox(row.pk for row in rows)
    return [
        WithdrawalStatus(
            event=row.event,
            published_at=row.published_at,
            progress=progress.get(row.pk, Progress()),
            within_erasure=bool((row.payload or {}).get("within_erasure")),
        )
        for row in rows
        if row.event is not None
    ]


@dataclass(frozen=True)
class ErasureProgress:
    request: ErasureRequest
    published_at: datetime.datetime | None
    progress: Progress  # every target of every propagation the erasure caused


def erasure_statuses(*, speaker: Speaker) -> list[ErasureProgress]:
    """The speaker's erasure requests with the progress of their propagation (which
    carries the withdrawals the request made, as well as audio, voiceprints and the
    personal data)."""
    requests = list(erasure_requests(speaker=speaker))
    # Each request's outbox row is written with it (and prefetched here).
    progress = progress_by_outbox(request.outbox.pk for request in requests)
    return [
        ErasureProgress(
            request, request.outbox.published_at, progress.get(request.outbox.pk, Progress())
        )
        for request in requests
    ]


def erasure_requests(*, speaker: Speaker) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(speaker=speaker).prefetch_related(
        Prefetch("outbox", queryset=ConsentOutbox.objects.all())
    )


@dataclass(frozen=True)
class EarningsSummary:
    balances: dict[str, Decimal]
    hours: Decimal
    entries: int


def earnings_summary(*, speaker: Speaker) -> EarningsSummary:
    return EarningsSummary(
        balances=balances(speaker=speaker),
        hours=earned_hours(speaker=speaker),
        entries=LedgerEntry.objects.filter(speaker=speaker).count(),
    )


def _iso(value: datetime.datetime | datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def speaker_data_export(*, speaker: Speaker) -> dict[str, Any]:
    """Everything the registry holds about the speaker (GDPR Art. 15 and 20), in one
    JSON-ready document: profile, consents, every event with its signed receipt, the
    recordings they are on (without the other participants), the ledger, requests."""
    receipts = {
        r.event_id: {"receipt": r.document, "signature": r.signature}
        for r in ConsentReceipt.objects.filter(event__speaker=speaker)
    }
    events = []
    for event in speaker_events(speaker=speaker).select_related("signature").order_by("seq"):
        signature = getattr(event, "signature", None)
        events.append(
            {
                "id": str(event.public_id),
                "seq": event.seq,
                "purpose": event.purpose,
                "action": event.action,
                "state": event.state,
                "scope": str(event.session.public_id) if event.session else "all recordings",
                "notice": {
                    "id": str(event.notice.public_id),
                    "version": event.notice.version,
                    "language": event.notice_language,
                    "sha256": event.notice_sha256,
                    "title": event.notice.title,
                },
                "jurisdiction": event.jurisdiction,
                "evidence_method": event.evidence_method,
                "signed_name": signature.signed_name if signature else None,
                "actor": event.actor_kind,
                "occurred_at": _iso(event.occurred_at),
                "expires_at": _iso(event.expires_at),
                "hash": event.hash,
                "receipt": receipts.get(event.pk),
            }
        )
    return {
        "format": "voice-consent-registry/data-export/1",
        "generated_at": timezone.now().isoformat(),
        "profile": {
            "id": str(speaker.public_id),
            "name": speaker.name,
            "email": speaker.email,
            "phone": speaker.phone,
            "date_of_birth": _iso(speaker.date_of_birth),
            "jurisdiction": speaker.jurisdiction,
            "preferred_language": speaker.preferred_language,
            "age_verification_method": speaker.age_verification_method,
            "age_verified_at": _iso(speaker.age_verified_at),
            "created_at": _iso(speaker.created_at),
        },
        "consents": [
            {
                "purpose": c.purpose,
                "scope": str(c.session.public_id) if c.session else "all recordings",
                "state": c.state,
                "since": _iso(c.state_since),
                "given_at": _iso(c.given_at),
                "expires_at": _iso(c.expires_at),
                "in_force": c.state in VALID_STATES,
            }
            for c in Consent.objects.filter(speaker=speaker).select_related("session")
        ],
        "events": events,
        "recordings": [
            {
                "id": str(row.recording.public_id),
                "recorded_at": _iso(row.recording.recorded_at),
                "duration_ms": row.recording.duration_ms,
                "language": row.recording.language,
                "jurisdiction": row.recording.jurisdiction,
                "sample_rate_hz": row.recording.sample_rate_hz,
                "your_channel": row.channel,
                "participants": row.participants,
                "status": row.recording.status,
                "usable_now": {p: u.eligible for p, u in row.usability.items()},
            }
            for row in speaker_recordings(speaker=speaker)
        ],
        "ledger": [
            {
                "id": str(entry.public_id),
                "kind": entry.kind,
                "currency": entry.currency,
                "amount": str(entry.amount),
                "hours": None if entry.hours is None else str(entry.hours),
                "recording": str(entry.track.recording.public_id) if entry.track else None,
                "reference": entry.reference,
                "occurred_at": _iso(entry.occurred_at),
            }
            for entry in LedgerEntry.objects.filter(speaker=speaker)
            .select_related("track__recording")
            .order_by("occurred_at", "id")
        ],
        "erasure_requests": [
            {
                "id": str(e.public_id),
                "status": e.status,
                "requested_at": _iso(e.requested_at),
                "completed_at": _iso(e.completed_at),
            }
            for e in ErasureRequest.objects.filter(speaker=speaker)
        ],
    }
