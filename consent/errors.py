"""Domain errors of consent. Each has a stable ``code`` the API maps to problem+json."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry.errors import RegistryError

if TYPE_CHECKING:
    from consent.models import SessionParticipant


class ConsentError(RegistryError):
    code = "consent_error"
    # The session participant a genuine invitation link named, when the refusal is about
    # that link (expired, closed, session over): its page still speaks their language.
    participant: SessionParticipant | None = None


class JurisdictionNotSupported(ConsentError):
    code = "jurisdiction_not_supported"


class NoticeUnavailable(ConsentError):
    code = "notice_unavailable"


class NoticeNotCurrent(ConsentError):
    code = "notice_not_current"
    status = 409


class NoticeWrongLanguage(ConsentError):
    code = "notice_wrong_language"


class NoticeWrongPurpose(ConsentError):
    """The notice answered is about another purpose: one notice, one purpose, one act."""

    code = "notice_wrong_purpose"


class NoticeIncomplete(ConsentError):
    code = "notice_incomplete"


class AgeNotVerified(ConsentError):
    code = "age_not_verified"
    status = 403


class BelowMinimumAge(ConsentError):
    code = "below_minimum_age"
    status = 403


class EvidenceNotAllowed(ConsentError):
    code = "evidence_not_allowed"


class EvidenceIncomplete(ConsentError):
    code = "evidence_incomplete"


class SpeakerErased(ConsentError):
    code = "speaker_erased"
    status = 410


class ConsentAlreadyGiven(ConsentError):
    code = "consent_already_given"
    status = 409


class ConsentNotRenewable(ConsentError):
    code = "consent_not_renewable"
    status = 409


class ConsentIsValid(ConsentError):
    """Refusing a consent that is currently given: withdraw it instead."""

    code = "consent_is_valid"
    status = 409


class SessionNotOpen(ConsentError):
    code = "session_not_open"
    status = 409


class NotAParticipant(ConsentError):
    code = "not_a_participant"
    status = 403


class SessionNotCleared(ConsentError):
    code = "session_not_cleared"
    status = 409


class InvitationInvalid(ConsentError):
    code = "invitation_invalid"
    status = 403


class ErasureInProgress(ConsentError):
    """The speaker asked for erasure: nothing new may be consented to or recorded."""

    code = "erasure_in_progress"
    status = 409


class InvitationExpired(ConsentError):
    code = "invitation_expired"
    status = 403


class ActBeforeRequest(ConsentError):
    """An act dated before the request that asked for it (the log would read "gave"
    before "was asked")."""

    code = "act_before_request"
    status = 422


class NoticeNotYetPublished(ConsentError):
    """An act dated before the notice it answers was published: it cannot have been read."""

    code = "notice_not_yet_published"
    status = 422


class InvitationClosed(ConsentError):
    """The participant's invitation was closed for good (under age, or erased)."""

    code = "invitation_closed"
    status = 410

    def __init__(self, detail: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(detail, field=field)
        self.reason = reason


class AgeAnswerRefused(ConsentError):
    """An earlier answer on an invitation showed the participant under age: a new
    self-declared date of birth cannot overturn it (a document check can)."""

    code = "under_age_on_record"
    status = 403
