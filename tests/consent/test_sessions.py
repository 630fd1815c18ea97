"""Pre-call consent: a session is cleared to record only when every participant has
given recording consent for it; its recording links tracks to participants."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import signing
from django.utils import timezone

from consent import services
from consent.eligibility import coverage_of, eligible_recordings
from consent.errors import (
    InvitationExpired,
    InvitationInvalid,
    NotAParticipant,
    SessionNotCleared,
    SessionNotOpen,
)
from consent.models import Consent, Purpose, SessionStatus
from consent.selectors import cleared_to_record, session_clearance
from registry import services as catalogue
from registry.errors import InvalidInput
from registry.models import Recording
from tests.consent.conftest import give, withdraw
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


def _session(*speakers):
    speakers = speakers or (SpeakerFactory(), SpeakerFactory())
    return services.create_recording_session(
        external_ref=f"session-{speakers[0].pk}",
        jurisdiction="US-CA",
        language="en",
        speakers=list(speakers),
    ), speakers


def _start(session):
    return services.start_recording(
        session=session,
        external_ref=f"rec-{session.external_ref}",
        duration_ms=60_000,
        sample_rate_hz=16_000,
    )


def test_a_session_is_cleared_only_when_every_participant_has_consented(notices) -> None:
    session, (a, b) = _session()
    assert not cleared_to_record(session)
    give(a, Purpose.RECORDING, session=session)
    clearance = session_clearance(session)
    assert [(p.channel, p.consented) for p in clearance] == [(0, True), (1, False)]
    assert not cleared_to_record(session)
    give(b, Purpose.RECORDING, session=session)
    assert cleared_to_record(session)


def test_a_general_recording_consent_also_clears_a_session(notices) -> None:
    session, (a, b) = _session()
    give(a, Purpose.RECORDING)
    give(b, Purpose.RECORDING, session=session)
    assert cleared_to_record(session)


def test_start_recording_refuses_until_everyone_consented(notices) -> None:
    session, (a, _) = _session()
    give(a, Purpose.RECORDING, session=session)
    with pytest.raises(SessionNotCleared):
        _start(session)
    assert Recording.objects.count() == 0
    session.refresh_from_db()
    assert session.status == SessionStatus.OPEN


def test_a_withdrawal_before_the_call_uncears_the_session(notices) -> None:
    session, (a, b) = _session()
    give(a, Purpose.RECORDING, session=session)
    give(b, Purpose.RECORDING, session=session)
    withdraw(b, Purpose.RECORDING, session=session)
    with pytest.raises(SessionNotCleared):
        _start(session)


def test_starting_links_tracks_to_participants_and_scoped_consents_to_the_recording(
    notices,
) -> None:
    session, (a, b) = _session()
    for speaker in (a, b):
        give(speaker, Purpose.RECORDING, session=session)
        give(speaker, Purpose.TRAINING, session=session)
    recording = _start(session)
    session.refresh_from_db()
    assert session.status == SessionStatus.RECORDING
    assert session.recording == recording
    for participant in session.participants.all():
        assert participant.track.speaker_id == participant.speaker_id
        assert participant.track.channel == participant.channel
    assert set(Consent.objects.filter(session=session).values_list("recording", flat=True)) == {
        recording.pk
    }
    with pytest.raises(SessionNotOpen):
        _start(session)


def test_session_scoped_consent_covers_that_recording_only(notices) -> None:
    session, (a, b) = _session()
    for speaker in (a, b):
        give(speaker, Purpose.RECORDING, session=session)
        give(speaker, Purpose.TRAINING, session=session)
    recording = _start(session)
    other = RecordingFactory(speakers=[a, b], recorded_at=timezone.now())
    catalogue.attach_recording_audio(
        recording=recording, audio_uri="s3://x/rec.flac", audio_sha256="b" * 64
    )
    eligible = set(eligible_recordings(purpose=Purpose.TRAINING).values_list("pk", flat=True))
    assert recording.pk in eligible
    assert other.pk not in eligible
    # The one-pass counter applies the same session scope.
    both = Recording.objects.filter(pk__in=[recording.pk, other.pk])
    coverage = coverage_of(both, at=timezone.now())
    assert coverage.total == 2
    assert coverage.covered[Purpose.TRAINING] == coverage.covered[Purpose.RECORDING] == 1
    assert coverage.covered[Purpose.BIOMETRIC] == 0
    assert not coverage.complete(Purpose.TRAINING)
    assert coverage.share(Purpose.TRAINING) == 0.5


def test_recording_consent_for_a_started_session_is_refused(notices) -> None:
    session, (a, b) = _session()
    give(a, Purpose.RECORDING, session=session)
    give(b, Purpose.RECORDING, session=session)
    _start(session)
    withdraw(a, Purpose.RECORDING, session=session)
    with pytest.raises(SessionNotOpen, match="before the recording starts"):
        give(a, Purpose.RECORDING, session=session)


def test_only_participants_consent_within_a_session(notices) -> None:
    session, _ = _session()
    with pytest.raises(NotAParticipant):
        give(SpeakerFactory(), Purpose.RECORDING, session=session)


def test_a_session_needs_two_distinct_speakers(db) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(InvalidInput):
        services.create_recording_session(
            external_ref="s", jurisdiction="US-CA", language="en", speakers=[speaker, speaker]
        )


def test_an_invitation_link_names_its_participant(notices) -> None:
    session, _ = _session()
    participant = session.participants.get(channel=1)
    token = services.invitation_token(participant)
    assert services.participant_from_invitation(token) == participant


def test_a_forged_invitation_is_refused(notices) -> None:
    session, _ = _session()
    token = services.invitation_token(session.participants.get(channel=0))
    with pytest.raises(InvitationInvalid):
        services.participant_from_invitation(token[:-2] + "xx")
    forged = signing.dumps({"p": "x", "s": "y"}, salt="another-salt")
    with pytest.raises(InvitationInvalid):
        services.participant_from_invitation(forged)


def test_an_expired_invitation_is_refused(notices) -> None:
    session, _ = _session()
    token = services.invitation_token(session.participants.get(channel=0))
    with (
        time_machine.travel(timezone.now() + datetime.timedelta(days=8)),
        pytest.raises(InvitationExpired),
    ):
        services.participant_from_invitation(token)
