"""Catalogue services: what they create, and what they refuse without writing anything."""

from __future__ import annotations

import datetime

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from registry import services
from registry.errors import ChannelMismatch, DuplicateRecord, InvalidInput
from registry.models import (
    AgeVerificationMethod,
    DerivedModel,
    Recording,
    RecordingStatus,
    Speaker,
    Track,
)
from registry.selectors import age_on
from tests.factories import (
    LicenseeFactory,
    RecordingFactory,
    SpeakerFactory,
    erase_speaker_row,
)

pytestmark = pytest.mark.django_db

YESTERDAY = timezone.now() - datetime.timedelta(days=1)


def _recording_kwargs(**overrides: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "external_ref": "call-1",
        "recorded_at": YESTERDAY,
        "duration_ms": 480_000,
        "sample_rate_hz": 16_000,
        "isolated_at_source": True,
        "language": "en",
        "jurisdiction": "US-CA",
    }
    kwargs.update(overrides)
    return kwargs


def test_register_recording_puts_each_speaker_on_their_own_channel() -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    recording = services.register_recording(**_recording_kwargs(), speakers=[a, b])
    assert recording.channel_count == 2
    assert recording.status == RecordingStatus.REGISTERED
    assert list(recording.tracks.values_list("channel", "speaker")) == [(0, a.pk), (1, b.pk)]


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"external_ref": "  "}, InvalidInput, "external_ref"),
        (
            {"recorded_at": timezone.now() + datetime.timedelta(hours=1)},
            InvalidInput,
            "recorded_at",
        ),
        (
            {"recorded_at": datetime.datetime(2026, 1, 1, 12, 0)},  # noqa: DTZ001 - naive on purpose
            InvalidInput,
            "recorded_at",
        ),
        ({"duration_ms": 0}, InvalidInput, "duration_ms"),
        ({"sample_rate_hz": 4000}, InvalidInput, "sample_rate_hz"),
        ({"language": "English"}, InvalidInput, "language"),
        ({"jurisdiction": "California"}, InvalidInput, "jurisdiction"),
    ],
)
def test_register_recording_refuses_bad_metadata_and_writes_nothing(
    overrides: dict[str, object], error: type[Exception], field: str
) -> None:
    speakers = [SpeakerFactory(), SpeakerFactory()]
    with pytest.raises(error) as excinfo:
        services.register_recording(**_recording_kwargs(**overrides), speakers=speakers)
    assert excinfo.value.field == field
    assert Recording.objects.count() == 0
    assert Track.objects.count() == 0


def test_register_recording_refuses_one_speaker_on_two_channels() -> None:
    speaker = SpeakerFactory()
    with pytest.raises(ChannelMismatch):
        services.register_recording(**_recording_kwargs(), speakers=[speaker, speaker])
    assert Recording.objects.count() == 0


def test_register_recording_refuses_no_speakers() -> None:
    with pytest.raises(ChannelMismatch):
        services.register_recording(**_recording_kwargs(), speakers=[])


def test_register_recording_refuses_a_duplicate_external_ref() -> None:
    RecordingFactory(external_ref="call-1")
    with pytest.raises(DuplicateRecord) as excinfo:
        RecordingFactory(external_ref="call-1")
    assert excinfo.value.code == "duplicate"
    assert Recording.objects.count() == 1


def test_register_recording_refuses_an_erased_speaker() -> None:
    a, b = SpeakerFactory(), erase_speaker_row(SpeakerFactory())
    with pytest.raises(InvalidInput, match="erased"):
        services.register_recording(**_recording_kwargs(), speakers=[a, b])


def test_attach_recording_audio_makes_the_recording_available() -> None:
    recording = RecordingFactory(with_audio=False)
    updated = services.attach_recording_audio(
        recording=recording, audio_uri="s3://bucket/call.flac", audio_sha256="a" * 64
    )
    assert updated.status == RecordingStatus.AVAILABLE
    recording.refresh_from_db()
    assert recording.audio_sha256 == "a" * 64


def test_attach_recording_audio_refuses_a_malformed_digest() -> None:
    recording = RecordingFactory(with_audio=False)
    with pytest.raises(InvalidInput, match="audio_sha256"):
        services.attach_recording_audio(
            recording=recording, audio_uri="s3://bucket/call.flac", audio_sha256="ABC"
        )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.REGISTERED


def test_register_speaker_refuses_a_duplicate_email_in_any_case() -> None:
    SpeakerFactory(email="noah@example.org")
    with pytest.raises(DuplicateRecord):
        SpeakerFactory(email="NOAH@example.org ")
    assert Speaker.objects.count() == 1


def test_register_speaker_refuses_a_minor() -> None:
    today = timezone.now().date()
    seventeen = today.replace(year=today.year - 17)
    with pytest.raises(InvalidInput, match="at least 18"):
        SpeakerFactory(date_of_birth=seventeen)
    assert Speaker.objects.count() == 0


def test_register_speaker_accepts_someone_turning_18_today() -> None:
    today = timezone.now().date()
    birthday = (
        today.replace(year=today.year - 18)
        if (today.month, today.day) != (2, 29)
        else (datetime.date(today.year - 18, 3, 1))
    )
    speaker = SpeakerFactory(date_of_birth=birthday)
    assert speaker.age_verified_at is not None


def test_register_speaker_refuses_an_attestation_below_18() -> None:
    with pytest.raises(InvalidInput, match="at least 18"):
        SpeakerFactory(
            date_of_birth=None,
            age_verification_method=AgeVerificationMethod.PLATFORM_ATTESTATION,
            age_attested_minimum=16,
        )


def test_register_speaker_refuses_a_date_of_birth_method_without_a_date() -> None:
    with pytest.raises(InvalidInput, match="date_of_birth is required"):
        SpeakerFactory(date_of_birth=None)


def test_register_speaker_refuses_a_bad_email() -> None:
    with pytest.raises(InvalidInput, match="email"):
        SpeakerFactory(email="not-an-address")


def test_an_unverified_speaker_has_no_verification_time() -> None:
    speaker = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    assert speaker.age_verified_at is None


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (datetime.date(2000, 6, 15), datetime.date(2018, 6, 14), 17),
        (datetime.date(2000, 6, 15), datetime.date(2018, 6, 15), 18),
        (datetime.date(2000, 2, 29), datetime.date(2018, 2, 28), 17),
        (datetime.date(2000, 2, 29), datetime.date(2018, 3, 1), 18),
    ],
)
def test_age_on_counts_completed_years(born: datetime.date, on: datetime.date, age: int) -> None:
    assert age_on(born, on) == age


def test_register_derived_model_refuses_an_unknown_withdrawal_action() -> None:
    with pytest.raises(InvalidInput, match="withdrawal_action"):
        services.register_derived_model(
            licensee=LicenseeFactory(), name="m", version="1", withdrawal_action="ignore"
        )
    assert DerivedModel.objects.count() == 0


def test_register_derived_model_refuses_a_duplicate_version() -> None:
    licensee = LicenseeFactory()
    services.register_derived_model(
        licensee=licensee, name="m", version="1", withdrawal_action="filter"
    )
    with pytest.raises(DuplicateRecord):
        services.register_derived_model(
            licensee=licensee, name="m", version="1", withdrawal_action="filter"
        )


def test_register_licensee_refuses_a_duplicate_slug() -> None:
    LicenseeFactory(slug="acme")
    with pytest.raises(DuplicateRecord):
        LicenseeFactory(slug="acme")


def test_register_licensee_refuses_a_bad_slug() -> None:
    with pytest.raises(InvalidInput, match="slug"):
        LicenseeFactory(slug="Acme Labs")


def test_attaching_audio_does_not_release_a_quarantined_recording() -> None:
    recording = RecordingFactory(with_audio=False)
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.QUARANTINED)
    with pytest.raises(InvalidInput, match="quarantined"):
        services.attach_recording_audio(
            recording=recording, audio_uri="s3://bucket/call.flac", audio_sha256="a" * 64
        )
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.QUARANTINED


def test_a_duplicate_email_that_races_past_the_check_is_still_a_duplicate(monkeypatch) -> None:
    SpeakerFactory(email="race@example.org")
    # Simulate the other transaction committing between our check and our insert.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    with pytest.raises(DuplicateRecord):
        SpeakerFactory(email="race@example.org")
