"""Erasure that erases: on a call not isolated at source (one room, separated
afterwards) every channel carries every voice, so erasing one participant (or their
withdrawing recording consent) destroys the other channels too, with tombstones, and
the releases holding them get the erratum. An isolated-at-source call keeps the
partner's channel."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from compensation import services as compensation
from compensation.models import LedgerEntry
from consent import services as consent
from consent.eligibility import eligible_recordings, explain_eligibility
from consent.models import OutboxKind, Purpose
from consent.services.audio import (
    RecordingConsentMissing,
    store_recording_audio,
    store_track_audio,
)
from datasetcards import services as datasets
from datasetcards.models import License, Release, ReleaseErratum, ReleaseStatus
from propagation import services as propagation
from propagation.models import AudioTombstone, Propagation, PropagationTarget, TargetKind
from registry import services as catalogue
from registry.models import Campaign, Licensee, Recording, RecordingStatus, Speaker, Track
from tests.admin_login import verified_login
from tests.api.helpers import licensee_client
from tests.consent.conftest import NOTICE_PLACES, give_all, publish, signed, withdraw
from tests.factories import LicenseeFactory, RecordingFactory, SpeakerFactory
from tests.propagation.conftest import ALL, Receiver, built_release, deliver_all, make_dataset

pytestmark = pytest.mark.django_db

ERASURE_PHRASE = "asked on {day} for their data to be erased"


@dataclass
class SharedRoom:
    a: Speaker  # the one erased
    b: Speaker  # the partner
    shared: Recording  # not isolated at source
    isolated: Recording  # isolated at source
    release: Release
    licensee: Licensee
    license: License
    campaign: Campaign

    def track(self, recording: Recording, speaker: Speaker) -> Track:
        return Track.objects.get(recording=recording, speaker=speaker)


@pytest.fixture
def early_notices(db) -> None:
    """Every notice, published before the consents the tests date two hours back (an
    act cannot predate the notice it answers)."""
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=3)):
        for purpose in Purpose.values:
            for jurisdiction, language in NOTICE_PLACES:
                publish(purpose, jurisdiction, language)


@pytest.fixture
def room(early_notices, receiver: Receiver, audio_dir: Path) -> SharedRoom:
    a, b = SpeakerFactory(), SpeakerFactory()
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2)):
        give_all(a, *ALL)
        give_all(b, *ALL)
    campaign = catalogue.register_campaign(slug="room", name="One room")
    compensation.publish_rate_plan(
        campaign=campaign,
        currency="USD",
        amount_per_hour="30",
        effective_from=timezone.now() - datetime.timedelta(days=30),
    )
    recorded = timezone.now() - datetime.timedelta(hours=1)
    calls: dict[bool, Recording] = {}
    for isolated in (False, True):
        registered = RecordingFactory(
            speakers=[a, b],
            recorded_at=recorded,
            with_audio=False,
            isolated_at_source=isolated,
            campaign=campaign,
        )
        recording = store_recording_audio(
            recording=registered, content=f"mixed {registered.public_id}".encode()
        )
        for track in recording.tracks.all():
            store_track_audio(track=track, content=f"audio of {track.public_id}".encode())
        calls[isolated] = recording
    release = built_release(make_dataset("room", ["training", "redistribution"]))
    licensee = LicenseeFactory()
    license_ = datasets.grant_license(
        licensee=licensee,
        dataset=release.dataset,
        purposes_allowed=["training", "redistribution"],
        derived_model_action="retrain",
        starts_on=timezone.now().date(),
        releases=[release],
        ack_deadline_days=14,
    )
    receiver.secret = propagation.register_webhook(licensee=licensee, url=receiver.url).secret
    return SharedRoom(a, b, calls[False], calls[True], release, licensee, license_, campaign)


def _erase(speaker: Speaker) -> None:
    consent.request_erasure(
        speaker=speaker, evidence=signed(), actor=consent.Actor.of_speaker(speaker)
    )


def _erasure_plan(speaker: Speaker) -> Propagation:
    return Propagation.objects.get(speaker=speaker, kind=OutboxKind.ERASURE)


def test_the_erasure_plan_lists_the_partner_channel_of_a_call_not_isolated_at_source(
    room: SharedRoom,
) -> None:
    _erase(room.a)
    audio = _erasure_plan(room.a).targets.filter(kind=TargetKind.AUDIO).select_related("track")
    assert {(t.track.recording_id, t.track.speaker_id) for t in audio} == {
        (room.shared.pk, room.a.pk),
        (room.shared.pk, room.b.pk),  # the partner's channel: it carries a's voice
        (room.isolated.pk, room.a.pk),  # the isolated call keeps b's channel
    }
    partner = audio.get(track__speaker=room.b)
    assert propagation.is_partner_channel(partner)
    assert not propagation.is_partner_channel(
        audio.get(track__recording=room.shared, track__speaker=room.a)
    )


def test_erasing_a_speaker_deletes_the_partner_channel_from_storage_with_a_tombstone(
    room: SharedRoom, audio_dir: Path
) -> None:
    partner = room.track(room.shared, room.b)
    name, digest = partner.audio_name, partner.audio_sha256
    assert (audio_dir / name).exists()
    _erase(room.a)
    deliver_all()
    assert not (audio_dir / name).exists()
    partner.refresh_from_db()
    assert (partner.audio_name, partner.audio_deleted_at is not None) == ("", True)
    tombstone = AudioTombstone.objects.get(track=partner)
    assert (tombstone.storage_name, tombstone.audio_sha256, tombstone.verified_absent) == (
        name,
        digest,
        True,
    )
    assert tombstone.reason == (
        "erasure requested by a speaker" + propagation.PARTNER_CHANNEL_REASON
    )
    assert tombstone.target is not None
    assert tombstone.target.propagation == _erasure_plan(room.a)
    # Nothing of the shared call is left in storage: both channels and the mixed file.
    room.shared.refresh_from_db()
    assert room.shared.status == RecordingStatus.AUDIO_DELETED
    left = {str(p.relative_to(audio_dir)) for p in audio_dir.rglob("*") if p.is_file()}
    assert left == {room.track(room.isolated, room.b).audio_name}


def test_an_isolated_at_source_call_keeps_the_partners_channel(
    room: SharedRoom, audio_dir: Path
) -> None:
    partner = room.track(room.isolated, room.b)
    _erase(room.a)
    deliver_all()
    partner.refresh_from_db()
    assert partner.audio_name
    assert (audio_dir / partner.audio_name).exists()
    assert partner.audio_deleted_at is None
    assert not AudioTombstone.objects.filter(track=partner).exists()
    assert not PropagationTarget.objects.filter(kind=TargetKind.AUDIO, track=partner).exists()


def test_withdrawing_recording_consent_also_deletes_the_partner_channel_of_a_shared_call(
    room: SharedRoom, audio_dir: Path
) -> None:
    partner = room.track(room.shared, room.b)
    name = partner.audio_name
    withdraw(room.a, Purpose.RECORDING)
    deliver_all()
    assert not (audio_dir / name).exists()
    assert AudioTombstone.objects.get(track=partner).reason == (
        "withdrawal of recording consent by a speaker" + propagation.PARTNER_CHANNEL_REASON
    )
    assert (audio_dir / room.track(room.isolated, room.b).audio_name).exists()


def test_withdrawing_training_consent_deletes_no_audio_at_all(room: SharedRoom) -> None:
    withdraw(room.a, Purpose.TRAINING)
    assert not PropagationTarget.objects.filter(kind=TargetKind.AUDIO).exists()


def test_the_release_holding_the_partners_track_gets_the_erratum_and_the_licensee_the_notice(
    room: SharedRoom, receiver: Receiver
) -> None:
    partner = room.track(room.shared, room.b)
    _erase(room.a)
    deliver_all()
    room.release.refresh_from_db()
    assert room.release.status == ReleaseStatus.TAINTED
    erratum = ReleaseErratum.objects.get(release=room.release)
    assert str(room.shared.public_id) in {str(r) for r in erratum.recording_ids}
    assert str(partner.public_id) in {str(t) for t in erratum.track_ids}
    (notice,) = [r.json for r in receiver.verified() if r.json.get("cause") == "erasure"]
    (listed,) = notice["releases"]
    assert str(partner.public_id) in listed["track_ids"]


def test_a_partner_channel_cannot_be_stored_once_a_participant_withdrew_recording(
    early_notices, audio_dir: Path
) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2)):
        give_all(a, Purpose.RECORDING)
        give_all(b, Purpose.RECORDING)
    call = RecordingFactory(
        speakers=[a, b],
        recorded_at=timezone.now() - datetime.timedelta(hours=1),
        with_audio=False,
        isolated_at_source=False,
    )
    withdraw(a, Purpose.RECORDING)
    partner = Track.objects.get(recording=call, speaker=b)
    with pytest.raises(RecordingConsentMissing) as refused:
        store_track_audio(track=partner, content=b"b's channel, with a's voice in it")
    assert refused.value.code == "recording_consent_missing"
    partner.refresh_from_db()
    assert partner.audio_name == ""
    assert not any(p.is_file() for p in audio_dir.rglob("*"))


def test_the_shared_call_is_ineligible_for_every_purpose_and_says_why(room: SharedRoom) -> None:
    _erase(room.a)
    deliver_all()
    day = timezone.now().date().isoformat()
    for purpose in Purpose.values:
        assert not eligible_recordings(purpose=purpose).filter(pk=room.shared.pk).exists()
        explanation = explain_eligibility(room.shared, purpose)
        assert not explanation.eligible
        erased = next(p for p in explanation.participants if p.speaker_id == str(room.a.public_id))
        assert any(ERASURE_PHRASE.format(day=day) in r for r in erased.reasons), erased.reasons
        assert not any("was asked for" in r for r in explanation.reasons)
        partner_channel = room.track(room.shared, room.b).channel
        assert (
            f"audio of channel {partner_channel} was destroyed on {day}: the call was not "
            "isolated at source and it carried another participant's withdrawn voice"
        ) in explanation.reasons


def test_the_licensee_explain_endpoint_names_the_erasure(room: SharedRoom) -> None:
    _erase(room.a)
    deliver_all()
    url = reverse("api:recording-eligibility", kwargs={"recording_id": room.shared.public_id})
    response = licensee_client(room.licensee).get(url, {"purpose": "training"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["eligible"] is False
    day = timezone.now().date().isoformat()
    channel = room.track(room.shared, room.a).channel
    assert f"speaker on channel {channel} " + ERASURE_PHRASE.format(day=day) in " ".join(
        body["reasons"]
    )
    assert not any("was asked for" in r for r in body["reasons"])


def test_the_admin_shows_the_partner_channel_target_on_the_propagation(
    client, room: SharedRoom
) -> None:
    _erase(room.a)
    plan = _erasure_plan(room.a)
    partner_target = plan.targets.get(kind=TargetKind.AUDIO, track__speaker=room.b)
    verified_login(client, User.objects.create_superuser("officer", password="x"))
    page = client.get(reverse("admin:propagation_propagation_change", args=[plan.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "partner channel (call not isolated at source, carries the voice too)" in text
    assert (
        text.count("the speaker&#x27;s own channel") + text.count("the speaker's own channel") == 2
    )
    detail = client.get(
        reverse("admin:propagation_propagationtarget_change", args=[partner_target.pk])
    ).content.decode()
    assert f"recording {room.shared.public_id}, channel" in detail
    assert "partner channel" in detail
    deliver_all()
    tombstones = client.get(reverse("admin:propagation_audiotombstone_changelist")).content
    assert b"this other participant" in tombstones


def test_the_partners_earnings_for_the_shared_call_are_kept(room: SharedRoom) -> None:
    assert compensation.accrue_earnings() == 4
    partner = room.track(room.shared, room.b)
    before = LedgerEntry.objects.get(track=partner)
    _erase(room.a)
    deliver_all()
    assert compensation.accrue_earnings() == 0  # nothing new, nothing reversed
    after = LedgerEntry.objects.get(track=partner)
    assert (after.pk, after.amount, after.hours) == (before.pk, before.amount, before.hours)
    assert LedgerEntry.objects.filter(speaker=room.b).count() == 2
    assert after.amount == Decimal("5.0000")  # 10 minutes at 30 an hour


def test_a_partner_channel_deleted_before_the_accrual_still_earns(room: SharedRoom) -> None:
    _erase(room.a)
    deliver_all()
    compensation.accrue_earnings()
    partner = room.track(room.shared, room.b)
    assert partner.audio_deleted_at is not None
    assert LedgerEntry.objects.get(track=partner).amount == Decimal("5.0000")


def test_the_mixed_file_is_refused_when_any_participant_lacks_recording_consent(
    early_notices, audio_dir: Path
) -> None:
    # Every channel is checked, not only the last one locked (the check once judged
    # every track by the speaker locked last).
    a, b = SpeakerFactory(), SpeakerFactory()
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2)):
        give_all(a, Purpose.RECORDING)
        give_all(b, Purpose.RECORDING)
    call = RecordingFactory(
        speakers=[a, b], recorded_at=timezone.now() - datetime.timedelta(hours=1), with_audio=False
    )
    first = min((a, b), key=lambda s: s.pk)  # the one the old check never looked at
    withdraw(first, Purpose.RECORDING)
    with pytest.raises(RecordingConsentMissing):
        store_recording_audio(recording=call, content=b"both voices")
    call.refresh_from_db()
    assert (call.audio_uri, call.status) == ("", RecordingStatus.REGISTERED)
    assert not any(p.is_file() for p in audio_dir.rglob("*"))


def test_a_recording_withdrawal_through_the_api_plans_the_partner_channel(
    room: SharedRoom,
) -> None:
    from tests.api.helpers import collector_client
    from tests.api.test_collector_api import WRITE, act

    body = {"action": "withdraw", "purpose": "recording", "evidence": {"method": "web_form"}}
    response = act(collector_client(WRITE), room.a, body)
    assert response.status_code == 201, response.content
    plan = Propagation.objects.get(speaker=room.a, kind=OutboxKind.WITHDRAWAL, purpose="recording")
    partner = plan.targets.get(kind=TargetKind.AUDIO, track__speaker=room.b)
    assert partner.track == room.track(room.shared, room.b)
    assert propagation.is_partner_channel(partner)
