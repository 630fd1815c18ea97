"""Every write to consent. One purpose per call, always: there is deliberately no
function that grants several purposes at once (bundling is what regulators fine).

Each entry point validates against the rules in force at that moment, locks the
speaker (so concurrent calls for one speaker are serialised), appends the event (the
database links it into the hash chain), updates the derived ``Consent`` row, and writes
an outbox row for withdrawals and expiries, all in one transaction.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from dataclasses import dataclass, field

from django.core import signing
from django.db import transaction
from django.utils import timezone

from consent.errors import (
    AgeNotVerified,
    BelowMinimumAge,
    ConsentAlreadyGiven,
    ConsentIsValid,
    ConsentNotRenewable,
    EvidenceIncomplete,
    EvidenceNotAllowed,
    InvitationExpired,
    InvitationInvalid,
    NotAParticipant,
    NoticeIncomplete,
    NoticeNotCurrent,
    SessionNotCleared,
    SessionNotOpen,
    SpeakerErased,
)
from consent.models import (
    ACTION_RESULT,
    VALID_STATES,
    ActorKind,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    ConsentOutbox,
    ConsentSignature,
    EvidenceMethod,
    Jurisdiction,
    NoticeStatus,
    OutboxKind,
    Purpose,
    RecordingSession,
    SessionParticipant,
    SessionStatus,
)
from consent.rules import AFFIRMATIVE_METHODS, Requirements, requirements_for
from consent.selectors import cleared_to_record, current_notice
from registry import pii
from registry import services as catalogue
from registry.errors import InvalidInput
from registry.models import LANGUAGE_RE, AgeVerificationMethod, Recording, Speaker
from registry.selectors import age_on
from registry.signing import canonical

SHA256 = re.compile(r"^[0-9a-f]{64}$")
INVITATION_SALT = "consent.session-invitation"


@dataclass(frozen=True)
class Actor:
    """Who performed the act. Staff act only with recorded evidence of the speaker's act."""

    kind: str
    ref: str = ""

    @classmethod
    def of_speaker(cls, speaker: Speaker) -> Actor:
        return cls(ActorKind.SPEAKER, str(speaker.public_id))

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "scheduler")


@dataclass(frozen=True)
class Evidence:
    """How the act was captured. ``document_sha256`` is the digest of the recorded
    spoken phrase or the scanned paper form; ``signed_name`` the typed-name signature."""

    method: str
    document_sha256: str = ""
    signed_name: str = ""
    ip_address: str = ""
    user_agent: str = ""
    occurred_at: datetime.datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _check_purpose(purpose: object) -> str:
    if not isinstance(purpose, str) or purpose not in Purpose.values:
        raise InvalidInput(
            "exactly one purpose per act: one of " + ", ".join(Purpose.values), field="purpose"
        )
    return purpose


def _check_actor(actor: Actor, evidence: Evidence) -> None:
    if actor.kind not in ActorKind.values:
        raise InvalidInput(f"unknown actor kind {actor.kind!r}", field="actor")
    if actor.kind == ActorKind.STAFF and evidence.method not in (
        EvidenceMethod.SIGNED_PAPER,
        EvidenceMethod.SPOKEN_PHRASE,
    ):
        # Support staff may record a speaker's act, never perform one for them.
        raise EvidenceNotAllowed(
            "staff can record consent only with the speaker's signed form or spoken phrase",
            field="evidence",
        )


def _check_evidence_shape(evidence: Evidence) -> None:
    if evidence.method not in AFFIRMATIVE_METHODS:
        raise EvidenceNotAllowed(
            f"{evidence.method!r} is not an act of the speaker", field="evidence.method"
        )
    if evidence.method in (EvidenceMethod.SPOKEN_PHRASE, EvidenceMethod.SIGNED_PAPER) and not (
        SHA256.match(evidence.document_sha256 or "")
    ):
        raise EvidenceIncomplete(
            "this method needs the sha256 of the recorded phrase or scanned form",
            field="evidence.document_sha256",
        )
    if evidence.method == EvidenceMethod.WEB_FORM_SIGNED and not evidence.signed_name.strip():
        raise EvidenceIncomplete(
            "a written consent needs the speaker's typed name", field="evidence.signed_name"
        )


def _check_age(speaker: Speaker, requirements: Requirements, at: datetime.datetime) -> None:
    method = speaker.age_verification_method
    if method == AgeVerificationMethod.UNVERIFIED:
        raise AgeNotVerified("the speaker's age has not been verified", field="age")
    if method == AgeVerificationMethod.DATE_OF_BIRTH:
        assert speaker.date_of_birth is not None  # noqa: S101 - a database constraint
        old_enough = age_on(speaker.date_of_birth, at.date()) >= requirements.min_age
    else:
        old_enough = (speaker.age_attested_minimum or 0) >= requirements.min_age
    if not old_enough:
        raise BelowMinimumAge(
            f"consent in {speaker.jurisdiction} needs the speaker to be at least "
            f"{requirements.min_age}",
            field="age",
        )


def _check_affirmative_act(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    at: datetime.datetime,
    check_age: bool = True,
) -> Requirements:
    """The rules in force for giving or renewing: current notice, age, evidence."""
    requirements = requirements_for(jurisdiction=speaker.jurisdiction, purpose=purpose, at=at)
    served = current_notice(speaker=speaker, purpose=purpose, language=notice.language, at=at)
    if served.pk != notice.pk:
        raise NoticeNotCurrent(
            f"{notice} is not the current {purpose} notice for this speaker ({served})",
            field="notice",
        )
    if requirements.requires_retention_schedule and not notice.retention_schedule.strip():
        raise NoticeIncomplete(
            "the law here requires the notice to publish a retention schedule", field="notice"
        )
    if check_age:
        _check_age(speaker, requirements, at)
    if evidence.method not in requirements.allowed_methods:
        allowed = ", ".join(sorted(requirements.allowed_methods))
        raise EvidenceNotAllowed(
            f"{purpose} consent in {speaker.jurisdiction} must be given by: {allowed}",
            field="evidence.method",
        )
    return requirements


def _lock_speaker(speaker: Speaker) -> Speaker:
    locked = Speaker.objects.select_for_update().get(pk=speaker.pk)
    if locked.erased_at is not None:
        raise SpeakerErased("this speaker's data was erased", field="speaker")
    return locked


def _lock_consent(
    speaker: Speaker, purpose: str, session: RecordingSession | None
) -> Consent | None:
    return (
        Consent.objects.select_for_update()
        .filter(speaker=speaker, purpose=purpose, session=session)
        .first()
    )


def _append(
    *,
    speaker: Speaker,
    purpose: str,
    action: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None,
    current: Consent | None,
    at: datetime.datetime,
    requirements: Requirements | None,
    given_at: datetime.datetime | None = None,
) -> Consent:
    """Write the event, its signature, the derived state and the outbox row."""
    state = ACTION_RESULT[ConsentAction(action)]
    expires_at = None
    if state in VALID_STATES and requirements and requirements.retention_days:
        expires_at = at + datetime.timedelta(days=requirements.retention_days)
    elif action == ConsentAction.EXPIRE and current is not None:
        expires_at = current.expires_at  # keep when it lapsed, for the record
    event = ConsentEvent.objects.create(
        speaker=speaker,
        purpose=purpose,
        action=action,
        state=state,
        session=session,
        notice=notice,
        notice_language=notice.language,
        notice_sha256=notice.text_sha256,
        jurisdiction=speaker.jurisdiction,
        rules_applied=list(requirements.rules) if requirements else [],
        evidence_method=evidence.method,
        evidence_sha256=evidence.document_sha256,
        actor_kind=actor.kind,
        actor_ref=actor.ref[:100],
        ip_hash=pii.keyed_digest("ip", evidence.ip_address) if evidence.ip_address else "",
        user_agent_hash=pii.keyed_digest("user-agent", evidence.user_agent)
        if evidence.user_agent
        else "",
        occurred_at=evidence.occurred_at or at,
        recorded_at=at,
        expires_at=expires_at,
    )
    if evidence.signed_name.strip():
        ConsentSignature.objects.create(event=event, signed_name=evidence.signed_name.strip())
    ConsentNotice.objects.filter(pk=notice.pk, first_served_at__isnull=True).update(
        first_served_at=at
    )
    values = {
        "state": state,
        "notice": notice,
        "state_since": at,
        "expires_at": expires_at,
        "last_event": event,
        "given_at": given_at if state in VALID_STATES else (current.given_at if current else None),
        "recording": session.recording if session else None,
    }
    if current is None:
        consent = Consent.objects.create(
            speaker=speaker, purpose=purpose, session=session, **values
        )
    else:
        for name, value in values.items():
            setattr(current, name, value)
        current.save(update_fields=list(values))
        consent = current
    if action in (ConsentAction.WITHDRAW, ConsentAction.EXPIRE):
        ConsentOutbox.objects.create(
            event=event,
            kind=OutboxKind.WITHDRAWAL if action == ConsentAction.WITHDRAW else OutboxKind.EXPIRY,
            payload={
                "event": str(event.public_id),
                "speaker": str(speaker.public_id),
                "purpose": purpose,
                "session": str(session.public_id) if session else None,
                "effective_at": at.isoformat(),
            },
        )
    return consent


def _check_session(
    session: RecordingSession | None, speaker: Speaker, *, giving: bool
) -> RecordingSession | None:
    """The session as it is now (the caller's copy may be stale), if the speaker is in it."""
    if session is None:
        return None
    session = RecordingSession.objects.get(pk=session.pk)
    if not session.participants.filter(speaker=speaker).exists():
        raise NotAParticipant("the speaker is not a participant of this session", field="session")
    if giving and session.status == SessionStatus.CANCELLED:
        raise SessionNotOpen("the session was cancelled", field="session")
    return session


def give_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
) -> Consent:
    """Record that ``speaker`` gave consent for one ``purpose`` after reading ``notice``.

    Refuses unless the notice is the current one for the speaker's jurisdiction and
    language, the speaker meets the minimum age, and the evidence method is one the
    rules in force allow. Recording consent for a session must precede the recording.
    """
    purpose = _check_purpose(purpose)
    _check_evidence_shape(evidence)
    _check_actor(actor, evidence)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        session = _check_session(session, speaker, giving=True)
        if session is not None and purpose == Purpose.RECORDING and session.recording_id:
            raise SessionNotOpen(
                "recording consent must be given before the recording starts", field="session"
            )
        requirements = _check_affirmative_act(
            speaker=speaker, purpose=purpose, notice=notice, evidence=evidence, at=at
        )
        current = _lock_consent(speaker, purpose, session)
        if (
            current is not None
            and current.state in VALID_STATES
            and not (current.expires_at and current.expires_at <= at)
        ):
            raise ConsentAlreadyGiven(
                f"{purpose} consent is already given; renew it to accept a newer notice",
                field="purpose",
            )
        return _append(
            speaker=speaker,
            purpose=purpose,
            action=ConsentAction.GIVE,
            notice=notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=requirements,
            given_at=at,
        )


def renew_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
) -> Consent:
    """Renew a given (or expired) consent under the current notice. A renewal of a
    still-valid consent keeps its start (``given_at``); one after expiry starts anew."""
    purpose = _check_purpose(purpose)
    _check_evidence_shape(evidence)
    _check_actor(actor, evidence)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        session = _check_session(session, speaker, giving=True)
        requirements = _check_affirmative_act(
            speaker=speaker, purpose=purpose, notice=notice, evidence=evidence, at=at
        )
        current = _lock_consent(speaker, purpose, session)
        if current is None or current.state not in (*VALID_STATES, "expired"):
            raise ConsentNotRenewable(
                f"only a given or expired {purpose} consent can be renewed", field="purpose"
            )
        still_valid = current.state in VALID_STATES and not (
            current.expires_at and current.expires_at <= at
        )
        return _append(
            speaker=speaker,
            purpose=purpose,
            action=ConsentAction.RENEW,
            notice=notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=requirements,
            given_at=current.given_at if still_valid else at,
        )


def refuse_consent(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
) -> Consent:
    """Record a refusal. A consent that is currently given must be withdrawn instead."""
    purpose = _check_purpose(purpose)
    _check_evidence_shape(evidence)
    _check_actor(actor, evidence)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        session = _check_session(session, speaker, giving=False)
        served = current_notice(speaker=speaker, purpose=purpose, language=notice.language)
        if served.pk != notice.pk:
            raise NoticeNotCurrent(f"{notice} is not the current {purpose} notice", field="notice")
        current = _lock_consent(speaker, purpose, session)
        if current is not None and current.state in VALID_STATES:
            raise ConsentIsValid(
                f"{purpose} consent is given; withdraw it instead of refusing", field="purpose"
            )
        return _append(
            speaker=speaker,
            purpose=purpose,
            action=ConsentAction.REFUSE,
            notice=notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=None,
        )


def withdraw_consent(
    *,
    speaker: Speaker,
    purpose: str,
    evidence: Evidence,
    actor: Actor,
    session: RecordingSession | None = None,
) -> Consent | None:
    """Withdraw one purpose. Never harder than giving: any affirmative method will do.

    Idempotent: withdrawing a consent that is not in force returns its current state
    (``None`` when there never was one) and writes no event. The withdrawal event and
    its outbox row are committed together, so propagation cannot miss it.
    """
    purpose = _check_purpose(purpose)
    _check_evidence_shape(evidence)
    _check_actor(actor, evidence)
    at = timezone.now()
    with transaction.atomic(durable=True):
        speaker = _lock_speaker(speaker)
        current = _lock_consent(speaker, purpose, session)
        if current is None or current.state not in VALID_STATES:
            return current
        return _append(
            speaker=speaker,
            purpose=purpose,
            action=ConsentAction.WITHDRAW,
            notice=current.notice,
            evidence=evidence,
            actor=actor,
            session=session,
            current=current,
            at=at,
            requirements=None,
        )


def expire_consents(*, at: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Mark every consent whose expiry has passed as expired (scheduled by beat).

    Each batch is one transaction; rows another worker holds are skipped (SKIP LOCKED)
    and picked up by the next run, so two schedulers never expire one consent twice.
    """
    at = at or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                Consent.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(state__in=VALID_STATES, expires_at__lte=at)
                .select_related("speaker", "notice", "session")
                .order_by("expires_at")[:batch_size]
            )
            for consent in batch:
                _append(
                    speaker=consent.speaker,
                    purpose=consent.purpose,
                    action=ConsentAction.EXPIRE,
                    notice=consent.notice,
                    evidence=Evidence(method=EvidenceMethod.SYSTEM, occurred_at=consent.expires_at),
                    actor=Actor.system(),
                    session=consent.session,
                    current=consent,
                    at=at,
                    requirements=None,
                )
            expired += len(batch)
        if len(batch) < batch_size:
            return expired


# --- Recording sessions (pre-call consent) -------------------------------------------------


def create_recording_session(
    *,
    external_ref: str,
    jurisdiction: str,
    language: str,
    speakers: list[Speaker],
    invite_valid_for: datetime.timedelta = datetime.timedelta(days=7),
) -> RecordingSession:
    """Open a session for a call; ``speakers[i]`` will be on channel ``i``."""
    if not (external_ref or "").strip():
        raise InvalidInput("external_ref is required", field="external_ref")
    if len(speakers) < 2 or len({s.pk for s in speakers}) != len(speakers):
        raise InvalidInput("a session needs at least two distinct speakers", field="speakers")
    with transaction.atomic(durable=True):
        if RecordingSession.objects.filter(external_ref=external_ref).exists():
            raise InvalidInput(f"session {external_ref!r} exists", field="external_ref")
        session = RecordingSession.objects.create(
            external_ref=external_ref.strip(),
            jurisdiction=jurisdiction,
            language=language,
            invite_expires_at=timezone.now() + invite_valid_for,
        )
        SessionParticipant.objects.bulk_create(
            SessionParticipant(session=session, speaker=speaker, channel=channel)
            for channel, speaker in enumerate(speakers)
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
    if participant.session.invite_expires_at <= timezone.now():
        raise InvitationExpired("this invitation has expired; ask for a new link")
    if participant.session.status != SessionStatus.OPEN:
        raise SessionNotOpen("this session is no longer waiting for consent")
    return participant


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
        session = RecordingSession.objects.select_for_update().get(pk=session.pk)
        if session.status != SessionStatus.OPEN:
            raise SessionNotOpen("this session is not waiting to record", field="session")
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


# --- Notices ---------------------------------------------------------------------------------


def notice_text_sha256(
    *,
    title: str,
    body: str,
    allows: str,
    does_not_allow: str,
    retention_schedule: str,
    language: str,
) -> str:
    """sha256 of the canonical JSON of everything the speaker reads."""
    document = {
        "title": title,
        "body": body,
        "allows": allows,
        "doesNotAllow": does_not_allow,
        "retentionSchedule": retention_schedule,
        "language": language,
    }
    return hashlib.sha256(canonical(document)).hexdigest()


def publish_notice(
    *,
    purpose: str,
    jurisdiction: str,
    language: str,
    title: str,
    body: str,
    allows: str,
    does_not_allow: str,
    retention_schedule: str = "",
) -> ConsentNotice:
    """Publish the next version of a notice. It becomes the current one at once; consents
    given under earlier versions stand, and ``consents_needing_reconsent`` lists them."""
    purpose = _check_purpose(purpose)
    for name, value in (
        ("title", title),
        ("body", body),
        ("allows", allows),
        ("does_not_allow", does_not_allow),
    ):
        if not (value or "").strip():
            raise InvalidInput(f"{name} is required", field=name)
    if not Jurisdiction.objects.filter(code=jurisdiction).exists():
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r}", field="jurisdiction")
    if not re.fullmatch(LANGUAGE_RE, language or ""):
        raise InvalidInput("language must be a BCP 47 tag such as en or ja", field="language")
    with transaction.atomic(durable=True):
        # Serialise publishers of the same notice family so versions never collide.
        Jurisdiction.objects.select_for_update().get(code=jurisdiction)
        latest = (
            ConsentNotice.objects.filter(
                purpose=purpose, jurisdiction_id=jurisdiction, language=language
            )
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        return ConsentNotice.objects.create(
            purpose=purpose,
            jurisdiction_id=jurisdiction,
            language=language,
            version=(latest or 0) + 1,
            title=title.strip(),
            body=body.strip(),
            allows=allows.strip(),
            does_not_allow=does_not_allow.strip(),
            retention_schedule=retention_schedule.strip(),
            text_sha256=notice_text_sha256(
                title=title.strip(),
                body=body.strip(),
                allows=allows.strip(),
                does_not_allow=does_not_allow.strip(),
                retention_schedule=retention_schedule.strip(),
                language=language,
            ),
        )


def retire_notice(*, notice: ConsentNotice) -> ConsentNotice:
    """Stop serving a notice. Consents given under it stand until withdrawn or renewed."""
    with transaction.atomic(durable=True):
        ConsentNotice.objects.filter(pk=notice.pk).update(status=NoticeStatus.RETIRED)
    notice.refresh_from_db()
    return notice
