"""Reason texts name the most recent fact per participant (``latest_fact``): an erasure
or a withdrawal is never hidden behind an older call-specific request."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import services
from consent.eligibility import explain_eligibility, latest_fact
from consent.models import Consent, ConsentState, Purpose
from consent.services.sessions import create_recording_session, start_recording
from registry import services as catalogue
from registry.models import Recording, Speaker
from tests.consent.conftest import give_all, signed, withdraw
from tests.factories import SpeakerFactory
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def _row(state: str, since: datetime.datetime, *, session: int | None = None) -> Consent:
    return Consent(purpose=Purpose.RECORDING, state=state, state_since=since, session_id=session)


def test_the_newest_consent_fact_wins_over_an_older_call_request() -> None:
    request = _row(ConsentState.REQUESTED, T0, session=7)
    withdrawal = _row(ConsentState.WITHDRAWN, T0 + datetime.timedelta(days=1))
    assert latest_fact([request, withdrawal]).consent is withdrawal


def test_a_call_request_newer_than_a_withdrawal_is_the_latest_fact() -> None:
    withdrawal = _row(ConsentState.WITHDRAWN, T0)
    request = _row(ConsentState.REQUESTED, T0 + datetime.timedelta(days=1), session=7)
    assert latest_fact([withdrawal, request]).consent is request


def test_on_a_tie_the_call_specific_row_is_the_latest_fact() -> None:
    general = _row(ConsentState.WITHDRAWN, T0)
    scoped = _row(ConsentState.WITHDRAWN, T0, session=7)
    assert latest_fact([general, scoped]).consent is scoped


def test_an_erasure_wins_over_the_withdrawals_it_made_and_every_older_fact() -> None:
    rows = [
        _row(ConsentState.REQUESTED, T0 - datetime.timedelta(days=2), session=7),
        _row(ConsentState.WITHDRAWN, T0),  # written by the erasure itself
    ]
    fact = latest_fact(rows, erasure_requested_at=T0)
    assert (fact.is_erasure, fact.consent) == (True, None)


def test_no_fact_at_all_is_no_consent_and_no_erasure() -> None:
    fact = latest_fact([])
    assert (fact.is_erasure, fact.consent) == (False, None)


def _recorded_session_call() -> tuple[Recording, Speaker, Speaker]:
    """a and b gave general consent, then a session asked both for this call (a
    call-specific "requested" row each) and the call was recorded."""
    a, b = SpeakerFactory(), SpeakerFactory()
    for speaker in (a, b):
        give_all(speaker, Purpose.RECORDING, Purpose.TRAINING)
    session = create_recording_session(
        external_ref=f"reasons-{a.pk}", jurisdiction="US-CA", language="en", speakers=[a, b]
    )
    recording = start_recording(
        session=session, external_ref=f"rec-{a.pk}", duration_ms=60_000, sample_rate_hz=16_000
    )
    recording = catalogue.attach_recording_audio(
        recording=recording,
        audio_uri=f"s3://calls/{recording.public_id}.flac",
        audio_sha256=hashlib.sha256(recording.external_ref.encode()).hexdigest(),
    )
    assert Consent.objects.filter(speaker=a, session=session, state=ConsentState.REQUESTED).exists()
    return recording, a, b


def test_an_erased_participant_is_explained_as_erased_not_as_asked_for_the_call(
    notices,
) -> None:
    recording, a, _ = _recorded_session_call()
    services.request_erasure(speaker=a, evidence=signed(), actor=services.Actor.of_speaker(a))
    day = timezone.now().date().isoformat()
    for purpose in (Purpose.RECORDING, Purpose.TRAINING):
        explanation = explain_eligibility(recording, purpose)
        assert not explanation.eligible
        (erased,) = (p for p in explanation.participants if p.channel == 0)
        # Said once, although both the recording and the purpose consent are gone.
        assert erased.reasons == [
            f"speaker on channel 0 asked on {day} for their data to be erased"
        ]
        assert erased.recording_fact is not None
        assert erased.recording_fact.is_erasure


def test_a_withdrawal_after_the_call_request_is_the_reason_given(notices) -> None:
    recording, a, _ = _recorded_session_call()
    withdraw(a, Purpose.RECORDING)
    day = timezone.now().date().isoformat()
    reasons = explain_eligibility(recording, Purpose.TRAINING).reasons
    assert reasons == [f"speaker on channel 0 withdrew recording consent on {day}"]


def test_a_withdrawn_purpose_is_named_even_with_an_open_call_request(notices) -> None:
    recording, _, b = _recorded_session_call()
    withdraw(b, Purpose.TRAINING)
    day = timezone.now().date().isoformat()
    assert explain_eligibility(recording, Purpose.TRAINING).reasons == [
        f"speaker on channel 1 withdrew training consent on {day}"
    ]


def test_the_portal_recording_page_names_the_speakers_own_latest_fact(client, notices) -> None:
    recording, a, b = _recorded_session_call()
    withdraw(a, Purpose.RECORDING)
    day = timezone.now().date().isoformat()
    page = sign_in(client, a).get(reverse("speakers:recording", args=[recording.public_id]))
    text = page.content.decode()
    assert f"You withdrew your consent (Recording) on {day}." in text
    assert "have not given it" not in text
    # The partner sees that the speaker's consent does not cover it, not what they did.
    client.logout()
    page = sign_in(client, b).get(reverse("speakers:recording", args=[recording.public_id]))
    text = page.content.decode()
    assert "Participant 1's consent does not cover it." in text
    assert "withdrew" not in text.lower()
