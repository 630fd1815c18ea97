"""Storing call audio, under the consent that allows it.

The speaker rows are locked first (the lock every consent act takes), and recording
consent is checked inside that transaction: a withdrawal either commits before (and
the store is refused) or after (and its plan finds the stored object and deletes it).
Nothing stored can slip between a withdrawal and its plan."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consent.eligibility import track_recording_consent_ok
from consent.errors import ConsentError
from consent.services.acts import _lock_speaker
from registry import services as catalogue
from registry.models import Recording, Track


class RecordingConsentMissing(ConsentError):
    code = "recording_consent_missing"
    status = 409


def _check(tracks: list[Track]) -> None:
    now = timezone.now()
    for track in sorted(tracks, key=lambda t: t.speaker_id):
        _lock_speaker(track.speaker)  # raises SpeakerErased for an erased speaker
    missing = [t.channel for t in tracks if not track_recording_consent_ok(t, at=now)]
    if missing:
        raise RecordingConsentMissing(
            f"recording consent does not cover channel(s) {missing} of this recording"
        )


def store_track_audio(*, track: Track, content: bytes) -> Track:
    """Store one channel's audio while its speaker's recording consent covers it. On a
    call not isolated at source every channel carries every voice, so it is stored only
    while every participant's recording consent covers it (as the mixed file is): a
    channel stored after a partner withdrew would escape that withdrawal's plan."""
    with transaction.atomic(durable=True):
        own = Track.objects.select_related("speaker", "recording").get(pk=track.pk)
        if own.recording.isolated_at_source:
            _check([own])
        else:
            _check(
                list(
                    Track.objects.filter(recording_id=own.recording_id).select_related(
                        "speaker", "recording"
                    )
                )
            )
        return catalogue.store_track_audio(track=track, content=content)


def store_recording_audio(*, recording: Recording, content: bytes) -> Recording:
    """Store the mixed file while every participant's recording consent covers it."""
    with transaction.atomic(durable=True):
        _check(
            list(Track.objects.filter(recording=recording).select_related("speaker", "recording"))
        )
        return catalogue.store_recording_audio(recording=recording, content=content)
