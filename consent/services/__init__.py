"""Every write to consent, one module per concern. Import from here."""

from consent.errors import ConsentAlreadyGiven, ConsentError
from consent.services.acts import (
    expire_consents,
    give_consent,
    refuse_consent,
    renew_consent,
    request_consent,
    withdraw_consent,
)
from consent.services.checks import Actor, Evidence
from consent.services.erasure import request_erasure
from consent.services.notices import notice_text_sha256, publish_notice, retire_notice
from consent.services.sessions import (
    close_participation,
    create_recording_session,
    invitation_token,
    participant_from_invitation,
    start_recording,
    verify_participant_age,
)

__all__ = [
    "Actor",
    "ConsentAlreadyGiven",
    "ConsentError",
    "Evidence",
    "close_participation",
    "create_recording_session",
    "expire_consents",
    "give_consent",
    "invitation_token",
    "notice_text_sha256",
    "participant_from_invitation",
    "publish_notice",
    "refuse_consent",
    "renew_consent",
    "request_consent",
    "request_erasure",
    "retire_notice",
    "start_recording",
    "verify_participant_age",
    "withdraw_consent",
]
