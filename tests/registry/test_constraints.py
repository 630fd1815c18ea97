"""Invariants the database itself enforces, written around the services on purpose."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from registry.models import Recording, RecordingStatus, Speaker, Track
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


def _check_deferred_now() -> None:
    # Tests run inside one transaction that never commits; this fires the deferred
    # constraint triggers as a commit would.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _bare_recording(channel_count: int = 2) -> Recording:
    template = RecordingFactory()
    return Recording.objects.create(
        external_ref=f"bare-{Recording.objects.count()}",
        recorded_at=template.recorded_at,
        duration_ms=1000,
        sample_rate_hz=16000,
        channel_count=channel_count,
        isolated_at_source=True,
        language="en",
        jurisdiction="US-CA",
    )


def test_a_track_on_a_channel_beyond_the_recordings_channels_is_rejected() -> None:
    recording = RecordingFactory()
    speaker = SpeakerFactory()
    with pytest.raises(IntegrityError, match="exceeds the channels"), transaction.atomic():
        Track.objects.create(recording=recording, channel=2, speaker=speaker)


def test_moving_a_track_to_a_channel_beyond_range_is_rejected() -> None:
    recording = RecordingFactory()
    track = recording.tracks.get(channel=1)
    with pytest.raises(IntegrityError, match="exceeds the channels"), transaction.atomic():
        Track.objects.filter(pk=track.pk).update(channel=5)


def test_a_second_speaker_on_one_channel_is_rejected() -> None:
    recording = RecordingFactory()
    speaker = SpeakerFactory()
    with pytest.raises(IntegrityError, match="track_one_speaker_per_channel"), transaction.atomic():
        Track.objects.create(recording=recording, channel=0, speaker=speaker)


def test_one_speaker_on_two_channels_of_a_recording_is_rejected() -> None:
    recording = _bare_recording()
    speaker = SpeakerFactory()
    Track.objects.create(recording=recording, channel=0, speaker=speaker)
    with (
        pytest.raises(IntegrityError, match="track_speaker_once_per_recording"),
        transaction.atomic(),
    ):
        Track.objects.create(recording=recording, channel=1, speaker=speaker)
    # Complete the recording so the end-of-test constraint check passes.
    Track.objects.create(recording=recording, channel=1, speaker=SpeakerFactory())


def test_a_recording_whose_tracks_do_not_cover_its_channels_cannot_commit() -> None:
    recording = _bare_recording(channel_count=2)
    Track.objects.create(recording=recording, channel=0, speaker=SpeakerFactory())
    with pytest.raises(IntegrityError, match="has 2 channels but 1 tracks"), transaction.atomic():
        _check_deferred_now()
    # Adding the missing channel makes the same recording valid.
    Track.objects.create(recording=recording, channel=1, speaker=SpeakerFactory())
    _check_deferred_now()


def test_deleting_a_track_breaks_coverage_and_is_rejected_at_commit() -> None:
    recording = RecordingFactory()
    _check_deferred_now()
    with pytest.raises(IntegrityError, match="has 2 channels but 1 tracks"), transaction.atomic():
        Track.objects.filter(recording=recording, channel=1).delete()


def test_raising_the_channel_count_without_new_tracks_is_rejected_at_commit() -> None:
    # Before ingestion (afterwards the recording's facts are fixed by another trigger).
    recording = RecordingFactory(with_audio=False)
    _check_deferred_now()
    with pytest.raises(IntegrityError, match="has 3 channels but 2 tracks"), transaction.atomic():
        Recording.objects.filter(pk=recording.pk).update(channel_count=3)


def test_a_fully_covered_recording_commits() -> None:
    recording = RecordingFactory()
    _check_deferred_now()  # raises if the trigger misjudged a valid recording
    assert recording.tracks.count() == 2


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("jurisdiction", "Illinois", "recording_jurisdiction_iso"),
        ("language", "English", "recording_language_bcp47"),
        ("duration_ms", 0, "recording_duration_gt_0"),
        ("sample_rate_hz", 4000, "recording_sample_rate_range"),
        ("audio_sha256", "XYZ", "recording_sha256_hex"),
        ("status", RecordingStatus.AVAILABLE, "recording_available_has_audio"),
    ],
)
def test_recording_check_constraints(field: str, value: object, constraint: str) -> None:
    recording = RecordingFactory(with_audio=False)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Recording.objects.filter(pk=recording.pk).update(**{field: value})


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"jurisdiction": "us-il"}, "speaker_jurisdiction_iso"),
        ({"email_blind_index": None}, "speaker_email_has_blind_index"),
        ({"name": None}, "speaker_named_unless_erased"),
        ({"age_verified_at": None}, "speaker_age_verification_dated"),
        (
            {"age_verification_method": "platform_attestation"},
            "speaker_attestation_states_adult_age",
        ),
    ],
)
def test_speaker_check_constraints(changes: dict[str, object], constraint: str) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Speaker.objects.filter(pk=speaker.pk).update(**changes)


def test_an_erased_speaker_cannot_keep_personal_data() -> None:
    speaker = SpeakerFactory()
    with pytest.raises(IntegrityError, match="speaker_erased_has_no_pii"), transaction.atomic():
        Speaker.objects.filter(pk=speaker.pk).update(erased_at="2026-01-01T00:00:00Z")


def test_a_speaker_with_tracks_cannot_be_deleted() -> None:
    recording = RecordingFactory()
    speaker = recording.tracks.first().speaker
    with pytest.raises(ProtectedError):
        speaker.delete()


def test_an_ingested_recordings_channel_count_cannot_change_at_all() -> None:
    from django.db import DatabaseError

    recording = RecordingFactory()
    with pytest.raises(DatabaseError, match="Cannot update rows"), transaction.atomic():
        Recording.objects.filter(pk=recording.pk).update(channel_count=3)
