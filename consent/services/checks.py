"""Who may act, with what evidence, under which rules: the validation every act shares."""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass, field, replace

from django.utils import timezone

from consent.errors import (
    ActBeforeRequest,
    AgeAnswerRefused,
    AgeNotVerified,
    BelowMinimumAge,
    EvidenceIncomplete,
    EvidenceNotAllowed,
    NoticeIncomplete,
    NoticeNotCurrent,
    NoticeNotYetPublished,
    NoticeWrongLanguage,
    NoticeWrongPurpose,
)
from consent.models import (
    ActorKind,
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
    RecordingSession,
)
from consent.rules import AFFIRMATIVE_METHODS, Requirements, requirements_for
from consent.selectors import current_notice, under_age_on_record
from registry import pii
from registry import services as catalogue
from registry.errors import InvalidInput
from registry.models import MINIMUM_AGE_FLOOR, AgeVerificationMethod, Speaker

SHA256 = re.compile(r"^[0-9a-f]{64}$")


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


# How far ahead of our clock a client's timestamp may be before we call it invalid.
CLOCK_SKEW = datetime.timedelta(minutes=5)


def evidence_digest(evidence: Evidence) -> str:
    """The digest the event (and so the hash chain) keeps of the evidence: the file's
    sha256, or for a typed-name signature a keyed hash of the normalised name, so the
    encrypted name kept beside the event cannot be swapped unnoticed."""
    if evidence.method == EvidenceMethod.WEB_FORM_SIGNED:
        name = unicodedata.normalize("NFKC", evidence.signed_name).strip().casefold()
        return pii.keyed_digest("signed-name", name)
    return evidence.document_sha256


def check_purpose(purpose: object) -> str:
    if not isinstance(purpose, str) or purpose not in Purpose.values:
        raise InvalidInput(
            "exactly one purpose per act: one of " + ", ".join(Purpose.values), field="purpose"
        )
    return purpose


def check_actor(actor: Actor, evidence: Evidence) -> None:
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


def check_evidence_shape(evidence: Evidence) -> None:
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
    if evidence.occurred_at is not None and (
        timezone.is_naive(evidence.occurred_at)
        or evidence.occurred_at > timezone.now() + CLOCK_SKEW
    ):
        # A receipt's consentTimestamp comes from here: it must not be in the future.
        raise EvidenceIncomplete(
            "occurred_at must carry a time zone and not be in the future",
            field="evidence.occurred_at",
        )
    if evidence.method == EvidenceMethod.WEB_FORM_SIGNED and not evidence.signed_name.strip():
        raise EvidenceIncomplete(
            "a written consent needs the speaker's typed name", field="evidence.signed_name"
        )


def check_act(*, purpose: object, evidence: Evidence, actor: Actor) -> str:
    """What every act by (or for) a speaker must satisfy before any rule is read: one
    purpose, evidence of an act of the speaker, an actor allowed to record it."""
    checked = check_purpose(purpose)
    check_evidence_shape(evidence)
    check_actor(actor, evidence)
    return checked


def check_speaker_age(speaker: Speaker, requirements: Requirements, at: datetime.datetime) -> None:
    """The speaker's age meets the rules in force for this act (the one age gate,
    ``registry.services.check_age``, with the rules' minimum for this purpose and place)
    on the day of ``at``, counted in UTC: a client's offset cannot move the day."""
    on = at.astimezone(datetime.UTC).date()
    if speaker.age_verification_method not in (
        AgeVerificationMethod.UNVERIFIED,
        AgeVerificationMethod.DOCUMENT_CHECK,
    ) and under_age_on_record(speaker=speaker):
        # Their own answer on an invitation showed them under age: a date they declared
        # (before, or racing that answer) or a platform's attestation cannot outweigh it;
        # only a document check can.
        raise AgeAnswerRefused(
            "an answer on an invitation showed this speaker under age; only a document "
            "check can verify their age now",
            field="age",
        )
    try:
        catalogue.check_speaker_age(speaker=speaker, min_age=requirements.min_age, on=on)
    except catalogue.AgeNotVerified as exc:
        raise AgeNotVerified(exc.detail, field="age") from exc
    except catalogue.BelowMinimumAge as exc:
        raise BelowMinimumAge(
            f"consent in {speaker.jurisdiction} needs the speaker to be at least "
            f"{max(requirements.min_age, MINIMUM_AGE_FLOOR)}",
            field="age",
        ) from exc


def check_notice_current(
    *, speaker: Speaker, purpose: str, notice: ConsentNotice, at: datetime.datetime
) -> None:
    """The notice the speaker answered is the one we serve them now for this purpose."""
    if notice.purpose != purpose:
        # Not a newer version of the right text but another question altogether: the
        # speaker (or a forged form) answered one purpose's notice for another's act.
        raise NoticeWrongPurpose(
            f"{notice} is a {notice.purpose} notice, not a {purpose} notice", field="notice"
        )
    served = current_notice(speaker=speaker, purpose=purpose, language=notice.language, at=at)
    if served.pk != notice.pk:
        raise NoticeNotCurrent(
            f"{notice} is not the current {purpose} notice for this speaker ({served})",
            field="notice",
        )


# Where the portal and the invitation page record the language the page (and so the
# notice) was shown in. The API's evidence has no such member: it cannot claim one.
UI_LANGUAGE = "ui_language"


def reads_language(*, speaker: Speaker, language: str, evidence: Evidence) -> bool:
    """Whether ``language`` is the speaker's own for the "notice in the speaker's
    language" rule: the language they declared, or the one our own page showed them the
    notice in. That one is always from the languages offered to them, and they chose it
    (or could change it with the switcher on the page): the product never refuses a
    speaker for a language it picked for them itself."""
    base = language.split("-")[0]
    shown = evidence.extra.get(UI_LANGUAGE, "")
    return base in (speaker.preferred_language.split("-")[0], shown.split("-")[0])


def check_affirmative_act(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    evidence: Evidence,
    actor: Actor,
    at: datetime.datetime,
    session: RecordingSession | None = None,
) -> Requirements:
    """The rules in force for giving or renewing: current notice, age, evidence. For a
    call, the minimum age is the stricter of where the speaker lives and where the call
    takes place (as for the invitation's age answer)."""
    requirements = requirements_for(jurisdiction=speaker.jurisdiction, purpose=purpose, at=at)
    check_notice_current(speaker=speaker, purpose=purpose, notice=notice, at=at)
    if requirements.notice_in_speaker_language and not reads_language(
        speaker=speaker, language=notice.language, evidence=evidence
    ):
        raise NoticeWrongLanguage(
            f"the law in {speaker.jurisdiction} requires the notice in the speaker's language "
            f"({speaker.preferred_language}), not {notice.language}",
            field="notice",
        )
    if requirements.requires_retention_schedule and not notice.retention_schedule.strip():
        raise NoticeIncomplete(
            "the law here requires the notice to publish a retention schedule", field="notice"
        )
    min_age = requirements.min_age
    if session is not None:
        place = requirements_for(jurisdiction=session.jurisdiction, purpose=purpose, at=at)
        min_age = max(min_age, place.min_age)
    # The age that counts is the one on the day the speaker acted (evidence dated back to
    # when they were a minor is a minor's consent, whatever their age today); never later
    # than our clock, which the allowed skew could otherwise push past midnight.
    check_speaker_age(
        speaker,
        replace(requirements, min_age=min_age),
        min(evidence.occurred_at or at, at),
    )
    if requirements.requires_speaker_act and actor.kind != ActorKind.SPEAKER:
        raise EvidenceNotAllowed(
            f"{purpose} consent in {speaker.jurisdiction} must be given by the speaker "
            "themselves, not recorded on their behalf",
            field="actor",
        )
    if evidence.method not in requirements.allowed_methods:
        allowed = ", ".join(sorted(requirements.allowed_methods))
        raise EvidenceNotAllowed(
            f"{purpose} consent in {speaker.jurisdiction} must be given by: {allowed}",
            field="evidence.method",
        )
    return requirements


def check_act_order(
    *,
    speaker: Speaker,
    purpose: str,
    notice: ConsentNotice,
    session: RecordingSession | None,
    evidence: Evidence,
) -> None:
    """An act cannot predate what it answers: the notice's publication, nor the request
    that asked for it. For a call that is the session's invitation (its creation, when
    every participant was asked); for any scope, the first request written for it. The
    moment judged is the evidence's ``occurred_at`` (when the speaker acted): an act
    without one is dated by our clock as it is recorded, after everything already stored.
    """
    occurred_at = evidence.occurred_at
    if occurred_at is None:
        return
    asked_at = (
        ConsentEvent.objects.filter(
            speaker=speaker, purpose=purpose, session=session, action=ConsentAction.REQUEST
        )
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if session is not None:
        asked_at = min(filter(None, (asked_at, session.created_at)))
    if asked_at is not None and occurred_at < asked_at:
        raise ActBeforeRequest(
            f"the act is dated {occurred_at.isoformat()}, before the speaker was asked "
            f"({asked_at.isoformat()})",
            field="evidence.occurred_at",
        )
    if occurred_at < notice.created_at:
        raise NoticeNotYetPublished(
            f"the act is dated {occurred_at.isoformat()}, before {notice} was published "
            f"({notice.created_at.isoformat()}): the speaker cannot have read it",
            field="evidence.occurred_at",
        )
