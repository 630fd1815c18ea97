"""Recording sessions: pre-call consent of every participant before anyone is recorded."""

from __future__ import annotations

import datetime
import re

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from consent.errors import (
    AgeAnswerRefused,
    BelowMinimumAge,
    ConsentError,
    InvitationClosed,
    InvitationExpired,
    InvitationInvalid,
    SessionNotCleared,
    SessionNotOpen,
)
from consent.models import (
    VALID_STATES,
    ActorKind,
    Consent,
    EvidenceMethod,
    ParticipantClosedReason,
    Purpose,
    RecordingSession,
    SessionParticipant,
    SessionStatus,
)
from consent.rules import jurisdiction_chain, requirements_for
from consent.selectors import cleared_to_record, under_age_on_record
from consent.services.acts import (
    check_no_erasure_pending,
    record_request,
    withdraw_row,
    write_system_refusal,
)
from consent.services.checks import Actor, Evidence
from registry import services as catalogue
from registry.errors import InvalidInput
from registry.models import (
    JURISDICTION_RE,
    LANGUAGE_RE,
    MINIMUM_AGE_FLOOR,
    Campaign,
    Recording,
    Speaker,
)

INVITATION_SALT = "consent.session-invitation"


class DuplicateSession(InvalidInput):
    """A session with this external_ref exists (still an ``InvalidInput`` for callers
    that catch that; the API answers 409 ``duplicate``)."""

    code = "duplicate"
    status = 409


def create_recording_session(
    *,
    external_ref: str,
    jurisdiction: str,
    language: str,
    speakers: list[Speaker],
    invite_valid_for: datetime.timedelta = datetime.timedelta(days=7),
    campaign: Campaign | None = None,
) -> RecordingSession:
    """Open a session for a call; ``speakers[i]`` will be on channel ``i``. Each
    participant's recording consent for it is recorded as requested."""
    if not (external_ref or "").strip():
        raise InvalidInput("external_ref is required", field="external_ref")
    if len(speakers) < 2 or len({s.pk for s in speakers}) != len(speakers):
        raise InvalidInput("a session needs at least two distinct speakers", field="speakers")
    # Its recording takes the session's place and language: they must be ones a
    # recording may carry, and a place whose rules we know.
    if not re.fullmatch(LANGUAGE_RE, language or ""):
        raise InvalidInput("language must be a BCP 47 tag such as en or ja", field="language")
    if not re.fullmatch(JURISDICTION_RE, jurisdiction or ""):
        raise InvalidInput("jurisdiction must be an ISO 3166 code", field="jurisdiction")
    jurisdiction_chain(jurisdiction)  # JurisdictionNotSupported for a place without rules
    duplicate = DuplicateSession(f"session {external_ref!r} exists", field="external_ref")
    try:
        return _create_session(
            external_ref=external_ref,
            jurisdiction=jurisdiction,
            language=language,
            speakers=speakers,
            invite_valid_for=invite_valid_for,
            campaign=campaign,
            duplicate=duplicate,
        )
    except IntegrityError as exc:
        # Two creations of one external_ref raced past the check: the unique index decides.
        if "external_ref" in str(exc):
            raise duplicate from exc
        raise


def _create_session(
    *,
    external_ref: str,
    jurisdiction: str,
    language: str,
    speakers: list[Speaker],
    invite_valid_for: datetime.timedelta,
    campaign: Campaign | None,
    duplicate: DuplicateSession,
) -> RecordingSession:
    # Not durable: the collection API stores an Idempotency-Key answer with it.
    with transaction.atomic():
        if RecordingSession.objects.filter(external_ref=external_ref.strip()).exists():
            raise duplicate
        session = RecordingSession.objects.create(
            external_ref=external_ref.strip(),
            jurisdiction=jurisdiction,
            language=language,
            invite_expires_at=timezone.now() + invite_valid_for,
            campaign=campaign,
        )
        SessionParticipant.objects.bulk_create(
            SessionParticipant(session=session, speaker=speaker, channel=channel)
            for channel, speaker in enumerate(speakers)
        )
        at = timezone.now()
        platform = Actor(ActorKind.PLATFORM, "collection-platform")
        # Speakers in id order, as every multi-speaker lock in the code base.
        for speaker in (
            Speaker.objects.select_for_update(no_key=True)
            .filter(pk__in=[s.pk for s in speakers])
            .order_by("pk")
        ):
            if speaker.erased_at is not None:
                raise InvalidInput("an erased speaker cannot be invited", field="speakers")
            check_no_erasure_pending(speaker)
            record_request(
                speaker=speaker, purpose=Purpose.RECORDING, actor=platform, session=session, at=at
            )
    return session


def invitation_token(participant: SessionParticipant) -> str:
    """A signed token for the participant's invitation link (checked for expiry on use)."""
    return signing.dumps(
        {"p": str(participant.public_id), "s": str(participant.session.public_id)},
        salt=INVITATION_SALT,
        compress=True,
    )


def participant_from_invitation(token: str) -> SessionParticipant:
    """The participant an invitation link names; refuses forged and expired links."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT)
    except signing.BadSignature as exc:
        raise InvitationInvalid("this invitation link is not valid") from exc
    participant = (
        SessionParticipant.objects.select_related("session", "speaker")
        .filter(public_id=data.get("p"), session__public_id=data.get("s"))
        .first()
    )
    if participant is None:
        raise InvitationInvalid("this invitation link is not valid")
    refusal: ConsentError | None = None
    if participant.session.invite_expires_at <= timezone.now():
        refusal = InvitationExpired("this invitation has expired; ask for a new link")
    elif participant.is_closed:
        refusal = InvitationClosed(
            "this invitation is closed for you: you can no longer take part in this call",
            reason=participant.closed_reason,
        )
    elif participant.session.status != SessionStatus.OPEN:
        refusal = SessionNotOpen("this session is no longer waiting for consent")
    if refusal is not None:
        # A genuine link: the page that refuses it still speaks the invitee's language.
        refusal.participant = participant
        raise refusal
    return participant


def verify_participant_age(
    *,
    participant: SessionParticipant,
    date_of_birth: datetime.date,
    evidence: Evidence | None = None,
) -> Speaker:
    """Verify a participant's age from their date of birth before they may consent.

    The minimum is the strictest rule for recording where the speaker lives and where
    the call takes place (``registry.services.check_age``, the one age gate). An
    implausible date changes nothing. An answer below the minimum closes this
    invitation for good: the refusal is committed (a ``refuse`` event for this call's
    recording, the participant closed ``under_age``), the date of birth is not stored,
    and then ``BelowMinimumAge`` is raised. A speaker once found under age cannot
    self-declare another date on any link (``AgeAnswerRefused``).
    """
    check_no_erasure_pending(participant.speaker)
    at = timezone.now()
    catalogue.check_date_of_birth(date_of_birth, today=at.date())
    if under_age_on_record(speaker=participant.speaker):
        raise AgeAnswerRefused(
            "an earlier answer showed this participant under age; only a document check "
            "can verify their age now",
            field="date_of_birth",
        )
    min_age = max(
        requirements_for(jurisdiction=code, purpose=Purpose.RECORDING, at=at).min_age
        for code in {participant.speaker.jurisdiction, participant.session.jurisdiction}
    )
    try:
        return catalogue.verify_speaker_age(
            speaker=participant.speaker, date_of_birth=date_of_birth, min_age=min_age
        )
    except catalogue.BelowMinimumAge as exc:
        close_participation(
            participant=participant,
            reason=ParticipantClosedReason.UNDER_AGE,
            evidence=evidence or Evidence(method=EvidenceMethod.WEB_FORM),
        )
        raise BelowMinimumAge(
            f"participants must be at least {max(min_age, MINIMUM_AGE_FLOOR)} years old",
            field="date_of_birth",
        ) from exc


def close_participation(
    *, participant: SessionParticipant, reason: str, evidence: Evidence
) -> SessionParticipant:
    """Close a participant's invitation for good, with the refusal in the event log.

    The log gets a ``refuse`` event for this call's recording consent, written by the
    system's age gate (its ``actor_ref`` names the reason) on the evidence of the
    participant's own answer; a consent for the call still in force is withdrawn
    instead (announced like any withdrawal). The session can then never clear."""
    with transaction.atomic(durable=True):
        speaker = Speaker.objects.select_for_update(no_key=True).get(pk=participant.speaker_id)
        locked = (
            SessionParticipant.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=participant.pk)
        )
        if locked.is_closed:
            return locked
        at = timezone.now()
        actor = Actor(ActorKind.SYSTEM, f"age-gate:{reason}")
        current = (
            Consent.objects.select_for_update(of=("self",))
            .select_related("notice", "session")
            .filter(speaker=speaker, purpose=Purpose.RECORDING, session=locked.session)
            .first()
        )
        if current is not None and current.state in VALID_STATES:
            withdraw_row(speaker, current, evidence=evidence, actor=actor, at=at)
        else:
            write_system_refusal(
                speaker=speaker,
                purpose=Purpose.RECORDING,
                session=locked.session,
                current=current,
                evidence=evidence,
                actor=actor,
                at=at,
            )
        locked.closed_reason = reason
        locked.closed_at = at
        locked.save(update_fields=["closed_reason", "closed_at"])
        return locked


def close_participations_of_erased(*, speaker: Speaker, at: datetime.datetime) -> int:
    """Close every open session's invitation of a speaker who asked for erasure (in the
    erasure's transaction, the speaker locked): their links show a closed page, the
    platform's clearance reports them erased, and those sessions never clear. Their
    consents were withdrawn by the erasure itself (its events are the evidence)."""
    return SessionParticipant.objects.filter(
        speaker=speaker, session__status=SessionStatus.OPEN, closed_reason=""
    ).update(closed_reason=ParticipantClosedReason.ERASED, closed_at=at)


def start_recording(
    *,
    session: RecordingSession,
    external_ref: str,
    duration_ms: int,
    sample_rate_hz: int,
    isolated_at_source: bool = True,
    recorded_at: datetime.datetime | None = None,
) -> Recording:
    """Create the session's recording, refusing unless every participant has given
    recording consent covering it; links tracks to participants and scoped consents to
    the recording."""
    recorded_at = recorded_at or timezone.now()
    with transaction.atomic(durable=True):
        session = RecordingSession.objects.select_for_update(no_key=True).get(pk=session.pk)
        if session.status != SessionStatus.OPEN:
            raise SessionNotOpen("this session is not waiting to record", field="session")
        # Hold the participants' recording consents while we decide, so a withdrawal
        # lands either before (and is seen) or after (and finds the recording).
        list(
            Consent.objects.select_for_update(no_key=True)
            .filter(
                Q(session__isnull=True) | Q(session=session),
                purpose=Purpose.RECORDING,
                speaker__in=session.participants.values("speaker"),
            )
            .order_by("id")
        )
        if not cleared_to_record(session, at=recorded_at):
            raise SessionNotCleared(
                "not every participant has given recording consent", field="session"
            )
        participants = list(session.participants.select_related("speaker").order_by("channel"))
        recording = catalogue.create_recording_with_tracks(
            external_ref=external_ref,
            recorded_at=recorded_at,
            duration_ms=duration_ms,
            sample_rate_hz=sample_rate_hz,
            isolated_at_source=isolated_at_source,
            language=session.language,
            jurisdiction=session.jurisdiction,
            speakers=[p.speaker for p in participants],
            campaign=session.campaign,
        )
        tracks = {t.channel: t for t in recording.tracks.all()}
        for participant in participants:
            participant.track = tracks[participant.channel]
            participant.save(update_fields=["track"])
        session.recording = recording
        session.status = SessionStatus.RECORDING
        session.save(update_fields=["recording", "status"])
        Consent.objects.filter(session=session).update(recording=recording)
    return recording
