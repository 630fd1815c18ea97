"""Eligibility: every participant, every purpose on its own, recording consent before
the call, expiry; one selector, and explanations that agree with it."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from consent.eligibility import (
    RecordingFilters,
    eligible_recordings,
    eligible_tracks,
    explain_eligibility,
)
from consent.models import Purpose
from tests.consent.conftest import give, give_all, withdraw
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


def _consented_call(*purposes: str, **recording_kwargs):
    a, b = SpeakerFactory(), SpeakerFactory()
    for speaker in (a, b):
        give_all(speaker, Purpose.RECORDING, *purposes)
    recording = RecordingFactory(speakers=[a, b], recorded_at=timezone.now(), **recording_kwargs)
    return recording, a, b


def _eligible(purpose: str, at=None) -> set[int]:
    return set(eligible_recordings(purpose=purpose, at=at).values_list("pk", flat=True))


def test_a_recording_is_eligible_when_every_participant_consented(notices) -> None:
    recording, _, _ = _consented_call(Purpose.TRAINING)
    assert recording.pk in _eligible(Purpose.TRAINING)
    assert recording.pk in _eligible(Purpose.RECORDING)
    assert recording.pk not in _eligible(Purpose.REDISTRIBUTION)


def test_one_participant_withdrawing_affects_only_that_purpose(notices) -> None:
    recording, _a, b = _consented_call(Purpose.TRAINING, Purpose.REDISTRIBUTION)
    withdraw(b, Purpose.TRAINING)
    assert recording.pk not in _eligible(Purpose.TRAINING)
    assert recording.pk in _eligible(Purpose.REDISTRIBUTION)
    assert recording.pk in _eligible(Purpose.RECORDING)


def test_one_participants_consent_is_not_enough(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    give_all(a, Purpose.RECORDING, Purpose.TRAINING)
    give(b, Purpose.RECORDING)
    recording = RecordingFactory(speakers=[a, b], recorded_at=timezone.now())
    assert recording.pk not in _eligible(Purpose.TRAINING)
    explanation = explain_eligibility(recording, Purpose.TRAINING)
    assert explanation.reasons == ["speaker on channel 1 has not given training consent"]


def test_recording_consent_given_after_the_call_does_not_count(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    give_all(a, Purpose.RECORDING, Purpose.TRAINING)
    give(b, Purpose.TRAINING)
    recording = RecordingFactory(speakers=[a, b], recorded_at=timezone.now())
    give(b, Purpose.RECORDING)  # too late
    assert recording.pk not in _eligible(Purpose.TRAINING)
    assert recording.pk not in _eligible(Purpose.RECORDING)
    (reason,) = explain_eligibility(recording, Purpose.TRAINING).reasons
    assert reason.startswith("speaker on channel 1 gave recording consent on")
    assert "after the call" in reason


def test_withdrawing_recording_consent_makes_the_recording_unusable_for_everything(notices) -> None:
    recording, a, _ = _consented_call(Purpose.TRAINING, Purpose.LIKENESS)
    withdraw(a, Purpose.RECORDING)
    for purpose in Purpose.values:
        assert recording.pk not in _eligible(purpose)


def test_regiving_recording_consent_later_does_not_revive_an_old_recording(notices) -> None:
    recording, a, _ = _consented_call(Purpose.TRAINING)
    withdraw(a, Purpose.RECORDING)
    give(a, Purpose.RECORDING)
    assert recording.pk not in _eligible(Purpose.TRAINING)


def test_an_expired_consent_stops_counting_even_before_the_expiry_job_runs(notices) -> None:
    a, b = SpeakerFactory(jurisdiction="US-IL"), SpeakerFactory(jurisdiction="US-IL")
    for speaker in (a, b):
        give_all(speaker, Purpose.RECORDING, Purpose.BIOMETRIC)
    recording = RecordingFactory(speakers=[a, b], recorded_at=timezone.now())
    now = timezone.now()
    assert recording.pk in _eligible(Purpose.BIOMETRIC, at=now)
    in_three_years = now + datetime.timedelta(days=1096)
    assert recording.pk not in _eligible(Purpose.BIOMETRIC, at=in_three_years)
    assert recording.pk in _eligible(Purpose.RECORDING, at=in_three_years)
    reasons = explain_eligibility(recording, Purpose.BIOMETRIC, at=in_three_years).reasons
    assert reasons[0].startswith("speaker on channel 0 biometric consent expired on")


def test_a_recording_without_its_audio_is_not_eligible(notices) -> None:
    recording, _, _ = _consented_call(Purpose.TRAINING, with_audio=False)
    assert recording.pk not in _eligible(Purpose.TRAINING)
    explanation = explain_eligibility(recording, Purpose.TRAINING)
    assert explanation.eligible is False
    assert explanation.reasons == ["audio is not available (status: registered)"]


def test_eligible_tracks_are_the_tracks_of_eligible_recordings(notices) -> None:
    recording, _, _ = _consented_call(Purpose.TRAINING)
    _consented_call()  # recording consent only
    tracks = eligible_tracks(purpose=Purpose.TRAINING)
    assert sorted(tracks.values_list("recording_id", "channel")) == [
        (recording.pk, 0),
        (recording.pk, 1),
    ]


def test_filters_narrow_the_eligible_set(notices) -> None:
    english, _, _ = _consented_call(Purpose.TRAINING, language="en", sample_rate_hz=16000)
    japanese, _, _ = _consented_call(Purpose.TRAINING, language="ja", sample_rate_hz=48000)

    def ids(**kwargs) -> set[int]:
        return set(
            eligible_recordings(
                purpose=Purpose.TRAINING, filters=RecordingFilters(**kwargs)
            ).values_list("pk", flat=True)
        )

    assert ids(languages=("ja",)) == {japanese.pk}
    assert ids(sample_rates_hz=(16000,)) == {english.pk}
    assert ids(min_duration_ms=600_001) == set()
    assert ids(isolated_at_source=True) == {english.pk, japanese.pk}


def test_explaining_one_recording_takes_at_most_two_queries(
    notices, django_assert_max_num_queries
) -> None:
    recording, _, b = _consented_call(Purpose.TRAINING)
    withdraw(b, Purpose.TRAINING)
    with django_assert_max_num_queries(2):
        explanation = explain_eligibility(recording, Purpose.TRAINING)
    assert explanation.eligible is False
    (reason,) = explanation.reasons
    assert reason.startswith("speaker on channel 1 withdrew training consent on ")


def test_explanations_name_no_one(notices) -> None:
    recording, a, b = _consented_call()
    explanation = explain_eligibility(recording, Purpose.LIKENESS)
    text = repr(explanation)
    for speaker in (a, b):
        assert speaker.name not in text
        assert speaker.email not in text
    assert {p.speaker_id for p in explanation.participants} == {str(a.public_id), str(b.public_id)}


def test_eligible_explanation_says_so(notices) -> None:
    recording, _, _ = _consented_call(Purpose.TRAINING)
    explanation = explain_eligibility(recording, Purpose.TRAINING)
    assert explanation.eligible is True
    assert explanation.reasons == ["every participant's consent covers training"]


def test_an_unknown_purpose_is_refused(notices) -> None:
    with pytest.raises(ValueError, match="unknown purpose"):
        eligible_recordings(purpose="advertising")
