"""The edges of propagation: releases still building, audio stored after a withdrawal,
overlapping consent scopes, erasure without duplicate notices, stranded completions,
a template the storage refuses to delete, private webhook addresses."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from consent import services as consent
from consent.services.audio import RecordingConsentMissing, store_track_audio
from consent.services.biometrics import BiometricConsentMissing, enroll_voiceprint
from datasetcards import services as datasets
from datasetcards.models import ReleaseErratum, ReleaseStatus
from propagation import services as propagation
from propagation import webhooks
from propagation.models import (
    Propagation,
    PropagationStatus,
    PropagationTarget,
    TargetKind,
    TargetStatus,
)
from registry.errors import InvalidInput
from registry.models import DerivedModelStatus, Track, VoiceprintTemplate
from tests.consent.conftest import give, signed, withdraw
from tests.factories import DerivedModelFactory
from tests.propagation.conftest import Receiver, World, deliver_all

pytestmark = pytest.mark.django_db


def test_a_withdrawal_during_a_release_build_reaches_the_release_once_built(
    world: World, receiver: Receiver, monkeypatch
) -> None:
    """The build writes its items from the consent states of that moment, then spends
    a while on the manifest and the figures before it commits; a withdrawal that lands
    in between is not in those items' snapshot, so the build's end reaches it."""
    building = datasets.create_release(dataset=world.training, version="1.1.0", enqueue=False)
    world.license.includes_future_releases = True
    world.license.save(update_fields=["includes_future_releases"])
    real_digest = datasets.manifest_digest

    def digest_while_a_withdraws(release_id):
        withdraw(world.a, "training")
        plan = Propagation.objects.get(speaker=world.a)
        assert not plan.targets.filter(release_id=release_id).exists()  # still building
        return real_digest(release_id)

    monkeypatch.setattr(datasets, "manifest_digest", digest_while_a_withdraws)
    built = datasets.build_release(release_id=building.pk)
    assert built.status == ReleaseStatus.CURRENT
    plan = Propagation.objects.get(speaker=world.a)
    assert plan.targets.filter(kind=TargetKind.RELEASE, release=built).exists()
    deliver_all()
    built.refresh_from_db()
    assert built.status == ReleaseStatus.TAINTED
    assert ReleaseErratum.objects.filter(release=built).count() == 1
    # One notice per license still, listing the new release too (licensed at its build).
    (license_target,) = PropagationTarget.objects.filter(kind=TargetKind.LICENSE)
    notice = propagation.notice_body(license_target)
    assert {r["release"] for r in notice["releases"]} == {
        str(world.release.public_id),
        str(built.public_id),
    }


def test_a_license_granted_after_the_plan_is_reached_when_its_release_is_tainted(
    world: World,
) -> None:
    from tests.factories import LicenseeFactory

    withdraw(world.a, "training")
    late = datasets.grant_license(
        licensee=LicenseeFactory(),
        dataset=world.training,
        purposes_allowed=["training"],
        derived_model_action="none",
        starts_on=timezone.now().date(),
        releases=[world.release],
    )
    deliver_all()
    assert PropagationTarget.objects.filter(kind=TargetKind.LICENSE, license=late).exists()
    assert PropagationTarget.objects.get(license=late).status == TargetStatus.DELIVERED


def test_audio_cannot_be_stored_for_a_speaker_whose_recording_consent_is_withdrawn(
    world: World,
) -> None:
    withdraw(world.a, "recording")
    track = Track.objects.filter(speaker=world.a).first()
    Track.objects.filter(pk=track.pk).update(audio_name="", audio_sha256="")
    with pytest.raises(RecordingConsentMissing):
        store_track_audio(track=track, content=b"late audio")
    track.refresh_from_db()
    assert track.audio_name == ""


def test_a_voiceprint_cannot_be_enrolled_after_biometric_withdrawal(world: World) -> None:
    withdraw(world.a, "biometric")
    with pytest.raises(BiometricConsentMissing):
        enroll_voiceprint(speaker=world.a, template=b"late template")
    assert VoiceprintTemplate.objects.filter(speaker=world.a).count() == 1


def test_a_session_withdrawal_under_a_standing_general_consent_reaches_nothing(
    world: World,
) -> None:
    from tests.consent.test_sessions import _session, _start

    session, (p, q) = _session()
    for speaker in (p, q):
        give(speaker, "recording")
        give(speaker, "training")
        give(speaker, "training", session=session)
    _start(session)
    withdraw(p, "training", session=session)
    plan = Propagation.objects.filter(speaker=p).latest("id")
    # p's general training consent still covers the call: nothing to take back.
    assert plan.recording_ids == []
    assert plan.targets.count() == 0


def test_withdrawing_a_purpose_reaches_each_call_through_exactly_one_plan(
    world: World,
) -> None:
    from tests.consent.test_sessions import _session, _start

    session, _ = _session(world.a, world.b)
    for speaker in (world.a, world.b):
        give(speaker, "training", session=session)
    recording = _start(session)
    # Withdrawing training withdraws the general and the session-scoped consent; each
    # has its plan, and no call is in both.
    withdraw(world.a, "training")
    plans = list(Propagation.objects.filter(speaker=world.a, purpose="training"))
    assert len(plans) == 2
    named = [set(p.recording_ids) for p in plans]
    assert not named[0] & named[1]
    assert named[0] | named[1] == {r.pk for r in world.calls} | {recording.pk}


def test_a_session_scoped_biometric_withdrawal_keeps_the_voiceprint(world: World) -> None:
    from tests.consent.test_sessions import _session, _start

    session, _ = _session(world.a, world.b)
    for speaker in (world.a, world.b):
        give(speaker, "recording", session=session)
        give(speaker, "biometric", session=session)
    _start(session)
    withdraw(world.a, "biometric", session=session)
    plan = Propagation.objects.filter(speaker=world.a).latest("id")
    assert not plan.targets.filter(kind=TargetKind.VOICEPRINT).exists()


def test_an_erasure_sends_one_notice_per_license_and_one_erratum_per_release(
    world: World, receiver: Receiver
) -> None:
    consent.request_erasure(
        speaker=world.a, evidence=signed(), actor=consent.Actor.of_speaker(world.a)
    )
    deliver_all()
    assert ReleaseErratum.objects.filter(release=world.release).count() == 1
    assert ReleaseErratum.objects.filter(release=world.biometric_release).count() == 1
    license_keys = {
        str(t.idempotency_key) for t in PropagationTarget.objects.filter(kind=TargetKind.LICENSE)
    }
    assert len(license_keys) == 1
    sent = receiver.keys()
    assert [k for k in sent if k in license_keys] == list(license_keys)
    # The withdrawals the erasure made are planned as part of it, with no targets.
    inside = Propagation.objects.filter(speaker=world.a, within_erasure=True)
    assert inside.count() == 4
    assert not PropagationTarget.objects.filter(propagation__in=inside).exists()


def test_the_notice_body_is_identical_on_every_attempt(world: World, receiver: Receiver) -> None:
    receiver.statuses = [503]
    withdraw(world.a, "training")
    target = PropagationTarget.objects.get(kind=TargetKind.LICENSE)
    propagation.deliver(target_id=target.pk, token="one")
    PropagationTarget.objects.filter(pk=target.pk).update(next_attempt_at=timezone.now())
    # Between the attempts b withdraws too: a's notice must not change.
    withdraw(world.b, "training")
    propagation.deliver(target_id=target.pk, token="two")
    bodies = [
        r.body
        for r in receiver.requests
        if r.headers["Idempotency-Key"] == str(target.idempotency_key)
    ]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]


def test_the_sweep_closes_a_propagation_left_open_by_concurrent_completions(
    world: World, monkeypatch
) -> None:
    monkeypatch.setattr(propagation, "_send", lambda ids, **_: len(list(ids)))
    withdraw(world.a, "biometric")
    deliver_all()
    plan = Propagation.objects.get(speaker=world.a)
    assert plan.status == PropagationStatus.COMPLETED
    # As if two last targets had finished at once and neither closed it.
    Propagation.objects.filter(pk=plan.pk).update(status="open", completed_at=None)
    propagation.sweep()
    plan.refresh_from_db()
    assert plan.status == PropagationStatus.COMPLETED


def test_one_template_the_storage_cannot_delete_does_not_shield_the_others(
    notices, audio_dir, monkeypatch
) -> None:
    from tests.factories import SpeakerFactory

    start = timezone.now() - datetime.timedelta(days=1200)
    speakers = [SpeakerFactory() for _ in range(3)]
    import time_machine

    with time_machine.travel(start, tick=False):
        for speaker in speakers:
            give(speaker, "biometric")
        templates = [
            enroll_voiceprint(speaker=s, template=b"t" + bytes([i])) for i, s in enumerate(speakers)
        ]
    stuck = templates[0].storage_name
    real_delete = propagation.audio_storage().__class__.delete

    def delete(storage, name):
        if name == stuck:
            raise PermissionError("read-only object")
        return real_delete(storage, name)

    monkeypatch.setattr(propagation.audio_storage().__class__, "delete", delete)
    assert propagation.destroy_due_voiceprints() == 2
    assert VoiceprintTemplate.objects.filter(destroyed_at__isnull=True).count() == 1


def test_webhook_endpoints_on_private_addresses_are_refused_in_production(
    world: World, settings
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    for url in ["http://127.0.0.1:9/h", "http://169.254.169.254/latest", "http://10.0.0.8/h"]:
        with pytest.raises(InvalidInput):
            propagation.register_webhook(licensee=world.licensee, url=url)
    # An endpoint that later points inward is refused at send time too.
    response = webhooks.post(
        url="http://127.0.0.1:9/h", body=b"{}", idempotency_key="k", secrets=["s"]
    )
    assert response.status_code is None
    assert response.error == "UnsafeDestination"


def test_a_new_build_supersedes_a_tainted_release(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    world.release.refresh_from_db()
    assert world.release.status == ReleaseStatus.TAINTED
    newer = datasets.create_release(dataset=world.training, version="2.0.0", enqueue=False)
    datasets.build_release(release_id=newer.pk)
    world.release.refresh_from_db()
    assert world.release.status == ReleaseStatus.SUPERSEDED


def test_a_model_declared_on_a_tainted_release_is_flagged_at_once(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    late = DerivedModelFactory(licensee=world.licensee, withdrawal_action="filter")
    datasets.record_model_training(model=late, releases=[world.release])
    late.refresh_from_db()
    assert late.status == DerivedModelStatus.FLAGGED
    assert late.required_action == "filter"


def test_a_store_whose_row_cannot_be_written_leaves_no_audio_behind(
    world: World, audio_dir, monkeypatch
) -> None:
    track = Track.objects.filter(speaker=world.a).first()
    Track.objects.filter(pk=track.pk).update(audio_name="", audio_sha256="")
    before = {p for p in audio_dir.rglob("*") if p.is_file()}

    def refuse(*args, **kwargs):
        raise RuntimeError("database refused the row")

    monkeypatch.setattr(Track, "save", refuse)
    with pytest.raises(RuntimeError):
        store_track_audio(track=track, content=b"orphan?")
    assert {p for p in audio_dir.rglob("*") if p.is_file()} == before
