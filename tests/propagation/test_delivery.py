"""Delivery to each kind of target, in this process (the worker tests run the same code
in real worker processes): what each target ends up as, and what the licensee sees."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from consent import services as consent
from consent.eligibility import eligible_recordings
from consent.models import (
    ConsentOutbox,
    ConsentSignature,
    ErasureRequest,
    ErasureStatus,
    OutboxKind,
)
from datasetcards.cards.native import build_card
from datasetcards.models import ReleaseErratum, ReleaseStatus
from datasetcards.services import verify_erratum
from propagation import services as propagation
from propagation import webhooks
from propagation.models import (
    REACHED_STATUSES,
    AttemptOutcome,
    AudioTombstone,
    DeliveryAttempt,
    Propagation,
    PropagationStatus,
    PropagationTarget,
    TargetKind,
    TargetStatus,
    WebhookEndpoint,
)
from registry.models import DerivedModelStatus, Speaker, Track, VoiceprintTemplate
from tests.consent.conftest import signed, withdraw
from tests.propagation.conftest import Receiver, World, deliver_all

pytestmark = pytest.mark.django_db


def _target(kind: str) -> PropagationTarget:
    return PropagationTarget.objects.filter(kind=kind).latest("id")


def test_a_training_withdrawal_taints_the_release_with_a_signed_erratum(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    world.release.refresh_from_db()
    assert world.release.status == ReleaseStatus.TAINTED
    erratum = ReleaseErratum.objects.get(release=world.release)
    assert erratum.purpose == "training"
    assert "training" in erratum.reason
    assert "@" not in erratum.reason
    # Every call of a and b, with both channels (a track alone is never usable).
    assert sorted(map(str, erratum.recording_ids)) == sorted(str(r.public_id) for r in world.calls)
    assert len(erratum.track_ids) == 2 * len(world.calls)
    assert verify_erratum(erratum)
    forged = ReleaseErratum.objects.get(pk=erratum.pk)
    forged.recording_ids = forged.recording_ids[:1]
    assert not verify_erratum(forged)
    # The card shows it.
    card = build_card(world.release)
    assert card["release"]["status"] == "tainted"
    assert card["release"]["errata_count"] == 1
    assert card["release"]["errata"][0]["recordings"] == len(world.calls)
    assert _target(TargetKind.RELEASE).status == TargetStatus.ACKNOWLEDGED
    # The biometric release is untouched by a training withdrawal.
    world.biometric_release.refresh_from_db()
    assert world.biometric_release.status == ReleaseStatus.CURRENT


def test_the_licensee_receives_a_signed_notice_and_acknowledges_it(
    world: World, receiver: Receiver, client
) -> None:
    withdraw(world.a, "training")
    deliver_all()
    license_target = _target(TargetKind.LICENSE)
    model_target = _target(TargetKind.DERIVED_MODEL)
    assert license_target.status == TargetStatus.DELIVERED
    assert license_target.ack_due_at == license_target.propagation.created_at + datetime.timedelta(
        days=14
    )
    notices = {r.headers["Idempotency-Key"]: r for r in receiver.verified()}
    assert set(notices) == {str(license_target.idempotency_key), str(model_target.idempotency_key)}
    notice = notices[str(license_target.idempotency_key)].json
    assert notice["purpose"] == "training"
    assert notice["license"] == str(world.license.public_id)
    (release,) = notice["releases"]
    assert release["release"] == str(world.release.public_id)
    assert sorted(release["recording_ids"]) == sorted(str(r.public_id) for r in world.calls)
    # No personal data: no names, emails or phone numbers of anyone.
    raw = notices[str(license_target.idempotency_key)].body.decode()
    for speaker in (world.a, world.b):
        speaker = Speaker.objects.get(pk=speaker.pk)
        for value in (speaker.name, speaker.email, speaker.phone):
            assert value not in raw
    # A wrong token is refused like an unknown notice; the right one acknowledges.
    ack = notice["acknowledge"]
    path = ack["url"].split("://", 1)[1].split("/", 1)[1]
    wrong = client.post(f"/{path}", {"token": "x" * 64}, content_type="application/json")
    assert wrong.status_code == 404
    assert wrong["Content-Type"] == "application/problem+json"
    response = client.post(f"/{path}", {"token": ack["token"]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "acknowledged"
    license_target.refresh_from_db()
    assert license_target.status == TargetStatus.ACKNOWLEDGED
    # Acknowledging twice is harmless.
    again = client.post(f"/{path}", {"token": ack["token"]}, content_type="application/json")
    assert again.status_code == 200


def test_bad_acknowledgements_change_nothing(world: World, client) -> None:
    withdraw(world.a, "training")
    deliver_all()
    target = _target(TargetKind.LICENSE)
    url = f"/api/v1/notices/{target.idempotency_key}/acknowledge"
    for body, status in [
        ("not json", 400),
        (json.dumps({"token": 5}), 400),
        (json.dumps(["token"]), 400),
        ("x" * 5000, 413),
    ]:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == status
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["detail"]
    assert client.get(url).status_code == 405
    target.refresh_from_db()
    assert target.status == TargetStatus.DELIVERED


def test_the_derived_model_is_flagged_with_the_action_its_contract_requires(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    world.model.refresh_from_db()
    assert world.model.status == DerivedModelStatus.FLAGGED
    assert world.model.required_action == "retrain"
    assert world.model.withdrawals_pending == 1
    # Redelivering the same target (a crash after the flag) does not flag twice.
    target = _target(TargetKind.DERIVED_MODEL)
    PropagationTarget.objects.filter(pk=target.pk).update(status=TargetStatus.PENDING)
    propagation.deliver(target_id=target.pk, token="again")
    world.model.refresh_from_db()
    assert world.model.withdrawals_pending == 1


def test_a_recording_withdrawal_deletes_only_the_speakers_audio_with_tombstones(
    world: World, audio_dir
) -> None:
    a_tracks = list(Track.objects.filter(speaker=world.a))
    b_tracks = list(Track.objects.filter(speaker=world.b))
    withdraw(world.a, "recording")
    deliver_all()
    for track in a_tracks:
        assert not (audio_dir / track.audio_name).exists()
        track.refresh_from_db()
        assert track.audio_name == ""
        assert track.audio_deleted_at is not None
        tombstone = AudioTombstone.objects.get(track=track)
        assert tombstone.verified_absent
        assert len(tombstone.audio_sha256) == 64
    for track in b_tracks:
        assert (audio_dir / track.audio_name).exists()
    # The mixed file of each call held a's voice too: destroyed, tombstoned, and the
    # call is no longer available for anything (b's own channel stays stored).
    for recording in world.calls:
        mixed = recording.audio_uri.removeprefix("storage:")
        assert not (audio_dir / mixed).exists()
        recording.refresh_from_db()
        assert recording.status == "audio_deleted"
        assert recording.audio_uri == ""
        tombstone = AudioTombstone.objects.get(track__recording=recording)
        assert tombstone.mixed_storage_name == mixed
        assert tombstone.mixed_sha256 == recording.audio_sha256
    assert not set(eligible_recordings(purpose="training").values_list("pk", flat=True)) & {
        r.pk for r in world.calls
    }
    world.other_call.refresh_from_db()
    assert world.other_call.status == "available"
    assert (audio_dir / world.other_call.audio_uri.removeprefix("storage:")).exists()
    internal = PropagationTarget.objects.filter(kind__in=[TargetKind.AUDIO, TargetKind.RELEASE])
    assert {t.status for t in internal} == {TargetStatus.ACKNOWLEDGED}


def test_a_biometric_withdrawal_destroys_the_template(world: World, audio_dir) -> None:
    name = world.voiceprint.storage_name
    assert (audio_dir / name).exists()
    withdraw(world.a, "biometric")
    deliver_all()
    world.voiceprint.refresh_from_db()
    assert world.voiceprint.destroyed_at is not None
    assert "biometric" in world.voiceprint.destruction_reason
    assert not (audio_dir / name).exists()


def test_an_erasure_leaves_no_audio_and_no_personal_data_of_the_speaker(
    world: World, audio_dir
) -> None:
    a = world.a
    own = [t.audio_name for t in Track.objects.filter(speaker=a)]
    request = consent.request_erasure(
        speaker=a, evidence=signed(), actor=consent.Actor.of_speaker(a)
    )
    deliver_all()
    a.refresh_from_db()
    assert a.erased_at is not None
    assert (a.name, a.email, a.email_blind_index, a.phone, a.date_of_birth) == (None,) * 5
    assert not ConsentSignature.objects.filter(event__speaker=a, signed_name__isnull=False).exists()
    assert all(not (audio_dir / name).exists() for name in own)
    assert not any(str(a.public_id) in p.name for p in audio_dir.rglob("*"))
    # What is left: the tombstones and the public id in the event chain.
    assert AudioTombstone.objects.filter(track__speaker=a).count() == len(world.calls)
    assert VoiceprintTemplate.objects.get(speaker=a).storage_name == ""
    request.refresh_from_db()
    # Notices are delivered but not yet acknowledged: the erasure is complete on our side.
    assert request.status == ErasureStatus.COMPLETED
    assert request.completed_at is not None
    erasure = Propagation.objects.get(kind=OutboxKind.ERASURE)
    assert erasure.targets.get(kind=TargetKind.PERSONAL_DATA).status == TargetStatus.ACKNOWLEDGED
    # The partner keeps their audio.
    assert all((audio_dir / t.audio_name).exists() for t in Track.objects.filter(speaker=world.b))
    # No object left anywhere in storage that holds a's voice: no own track, no mixed
    # file of a call a was on; the other pair's call is untouched.
    left = {str(p.relative_to(audio_dir)) for p in audio_dir.rglob("*") if p.is_file()}
    assert left == {t.audio_name for t in Track.objects.exclude(speaker=a)} | {
        world.other_call.audio_uri.removeprefix("storage:")
    }


def test_an_erasure_in_progress_is_not_complete_while_a_target_is_unreached(
    world: World, receiver: Receiver
) -> None:
    receiver.default_status = 503
    request = consent.request_erasure(
        speaker=world.a, evidence=signed(), actor=consent.Actor.of_speaker(world.a)
    )
    deliver_all(rounds=1)
    request.refresh_from_db()
    assert request.status == ErasureStatus.IN_PROGRESS
    assert ErasureRequest.objects.filter(status=ErasureStatus.COMPLETED).count() == 0


def test_a_licensee_that_is_down_is_retried_with_backoff_then_dead_then_retried_by_staff(
    world: World, receiver: Receiver, settings
) -> None:
    settings.PROPAGATION_MAX_ATTEMPTS = 3
    receiver.default_status = 503
    withdraw(world.a, "training")
    target = _target(TargetKind.LICENSE)
    delays = []
    for attempt in range(1, 4):
        outcome = propagation.deliver(target_id=target.pk, token=f"t{attempt}")
        target.refresh_from_db()
        if attempt < 3:
            assert outcome.status == TargetStatus.FAILED
            assert target.status == TargetStatus.FAILED
            delays.append(outcome.retry_in)
            # Not due before its backoff: an early message does nothing.
            assert propagation.deliver(target_id=target.pk, token="early").status == "skipped"
            assert target.next_attempt_at > timezone.now()
            PropagationTarget.objects.filter(pk=target.pk).update(next_attempt_at=timezone.now())
        else:
            assert outcome.status == TargetStatus.DEAD
            assert target.status == TargetStatus.DEAD
            assert target.died_at is not None
    base = settings.PROPAGATION_RETRY_BASE_SECONDS
    assert base / 2 <= delays[0] <= base
    assert base <= delays[1] <= 2 * base
    attempts = list(DeliveryAttempt.objects.filter(target=target).order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3]
    assert {a.outcome for a in attempts} == {AttemptOutcome.FAILED}
    assert {a.status_code for a in attempts} == {503}
    assert all(a.latency_ms >= 0 for a in attempts)
    # Staff retry once the licensee is back: delivered, same idempotency key.
    receiver.default_status = 200
    assert propagation.retry_targets(target_ids=[target.pk]) == 1
    assert propagation.deliver(target_id=target.pk, token="staff").status == "delivered"
    keys = receiver.keys()
    assert keys.count(str(target.idempotency_key)) == 4
    assert receiver.verified()[-1].headers["Idempotency-Key"] == str(target.idempotency_key)
    # A retry of a target that is not failed or dead does nothing.
    assert propagation.retry_targets(target_ids=[target.pk]) == 0


def test_backoff_grows_exponentially_is_jittered_and_capped(settings) -> None:
    settings.PROPAGATION_RETRY_BASE_SECONDS = 10
    settings.PROPAGATION_RETRY_CAP_SECONDS = 100
    samples = {n: [propagation.backoff_seconds(n) for _ in range(200)] for n in (1, 2, 3, 10)}
    assert all(5 <= s <= 10 for s in samples[1])
    assert all(10 <= s <= 20 for s in samples[2])
    assert all(20 <= s <= 40 for s in samples[3])
    assert all(50 <= s <= 100 for s in samples[10])
    assert len(set(samples[1])) > 150  # jittered, not one fixed delay


def test_two_claims_on_one_target_cannot_both_win(world: World) -> None:
    withdraw(world.a, "training")
    target = _target(TargetKind.RELEASE)
    now = timezone.now()
    assert propagation.claim(target_id=target.pk, token="first", now=now)
    assert not propagation.claim(target_id=target.pk, token="second", now=now)
    # The holder's own message (redelivered after a crash) may take it back.
    assert propagation.claim(target_id=target.pk, token="first", now=now)
    # Anyone else only after the lease ran out.
    later = now + datetime.timedelta(seconds=3600)
    assert propagation.claim(target_id=target.pk, token="second", now=later)


def test_a_delivered_target_is_never_delivered_again(world: World, receiver: Receiver) -> None:
    withdraw(world.a, "training")
    deliver_all()
    target = _target(TargetKind.LICENSE)
    before = len(receiver.requests)
    assert propagation.deliver(target_id=target.pk, token="dup").status == "skipped"
    assert len(receiver.requests) == before


def test_overdue_acknowledgements_are_flagged_once(world: World) -> None:
    withdraw(world.a, "training")
    deliver_all()
    target = _target(TargetKind.LICENSE)
    model_target = _target(TargetKind.DERIVED_MODEL)
    assert propagation.flag_overdue_acknowledgements() == 0
    # The license allows 14 days, the model owner the default 30.
    later = target.ack_due_at + datetime.timedelta(minutes=1)
    assert model_target.ack_due_at > later
    assert propagation.flag_overdue_acknowledgements(now=later) == 1
    assert propagation.flag_overdue_acknowledgements(now=later) == 0
    target.refresh_from_db()
    assert target.ack_overdue_at == later
    much_later = model_target.ack_due_at + datetime.timedelta(minutes=1)
    assert propagation.flag_overdue_acknowledgements(now=much_later) == 1


def test_secret_rotation_signs_with_both_secrets_during_the_grace_period(
    world: World, receiver: Receiver
) -> None:
    endpoint = WebhookEndpoint.objects.get(licensee=world.licensee, is_active=True)
    old = receiver.secret
    rotated = propagation.rotate_webhook_secret(endpoint=endpoint)
    withdraw(world.a, "training")
    deliver_all()
    header = receiver.requests[-1].headers["Registry-Signature"]
    body = receiver.requests[-1].body
    assert header.count("v1=") == 2
    assert webhooks.verify_signature(header=header, body=body, secret=old)
    assert webhooks.verify_signature(header=header, body=body, secret=rotated.secret)
    # After the grace period only the new secret signs.
    later = timezone.now() + datetime.timedelta(hours=25)
    assert propagation.endpoint_secrets(rotated.endpoint, now=later) == [rotated.secret]


def test_signatures_outside_the_replay_window_or_tampered_are_rejected() -> None:
    body = b'{"a":1}'
    header = webhooks.signature_header(body=body, secrets=["s"], timestamp=1_000_000)
    assert webhooks.verify_signature(header=header, body=body, secret="s", now=1_000_100)
    assert not webhooks.verify_signature(header=header, body=body, secret="s", now=1_000_400)
    assert not webhooks.verify_signature(header=header, body=b'{"a":2}', secret="s", now=1_000_000)
    assert not webhooks.verify_signature(header=header, body=body, secret="t", now=1_000_000)
    assert not webhooks.verify_signature(header="v1=abc", body=body, secret="s")


def test_a_licensee_without_an_endpoint_is_notified_by_email(world: World) -> None:
    WebhookEndpoint.objects.update(is_active=False)
    withdraw(world.a, "training")
    deliver_all()
    assert _target(TargetKind.LICENSE).status == TargetStatus.DELIVERED
    assert {m.to[0] for m in mail.outbox} == {world.licensee.contact_email}
    assert json.loads(mail.outbox[0].body)["type"] == "withdrawal.notice"


def test_webhook_urls_are_checked(world: World, settings) -> None:
    from registry.errors import InvalidInput

    for url in ["ftp://x.example/h", "not a url", "https://user:pw@x.example/h"]:
        with pytest.raises(InvalidInput):
            propagation.register_webhook(licensee=world.licensee, url=url)
    settings.WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(InvalidInput):
        propagation.register_webhook(licensee=world.licensee, url="http://x.example/h")
    assert WebhookEndpoint.objects.filter(is_active=True).count() == 1


def test_an_expiry_propagates_like_a_withdrawal(world: World) -> None:
    from consent.models import Consent

    Consent.objects.filter(speaker=world.a, purpose="training").update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert consent.expire_consents() == 1
    propagation_row = Propagation.objects.get(speaker=world.a)
    assert propagation_row.kind == OutboxKind.EXPIRY
    deliver_all()
    assert "expiry" in ReleaseErratum.objects.get(release=world.release).reason


def test_a_propagation_completes_when_every_target_is_acknowledged(world: World, client) -> None:
    withdraw(world.a, "training")
    deliver_all()
    row = Propagation.objects.get(speaker=world.a)
    assert row.status == PropagationStatus.OPEN
    for target in row.targets.exclude(status=TargetStatus.ACKNOWLEDGED):
        propagation.acknowledge(key=target.idempotency_key, token=propagation.ack_token(target))
    row.refresh_from_db()
    assert row.status == PropagationStatus.COMPLETED
    assert row.completed_at is not None


def _recorder(sent: list[int]):
    """Stands in for the broker: records what would be queued."""

    def send(ids, **_) -> int:
        sent.extend(ids)
        return len(sent)

    return send


def test_publish_sends_the_pending_targets_once_and_marks_the_rows(
    world: World, monkeypatch
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(propagation, "_send", _recorder(sent))
    withdraw(world.a, "training")
    assert propagation.publish() == 1  # one outbox row
    assert sorted(sent) == sorted(PropagationTarget.objects.values_list("pk", flat=True))
    assert not ConsentOutbox.objects.filter(published_at__isnull=True).exists()
    assert propagation.publish() == 0  # nothing left to publish


def test_publish_plans_outbox_rows_written_without_a_plan(world: World, monkeypatch) -> None:
    monkeypatch.setattr(propagation, "_send", lambda ids, **_: len(list(ids)))
    withdraw(world.a, "training")
    # A row written before propagation existed (e.g. by a bulk load) has no plan.
    row = ConsentOutbox.objects.get()
    PropagationTarget.objects.all().delete()
    Propagation.objects.all().delete()
    assert propagation.publish() == 1
    assert Propagation.objects.get(outbox=row).targets.count() == 3


def test_the_broker_being_down_never_fails_the_withdrawal(world: World, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(propagation, "_send", refuse)
    monkeypatch.setattr(propagation, "_send_publish", refuse)
    withdraw(world.a, "training")
    row = ConsentOutbox.objects.get()
    assert propagation.kick(outbox_ids=[row.pk]) is False
    assert ConsentOutbox.objects.filter(published_at__isnull=True).count() == 1
    with pytest.raises(ConnectionRefusedError):
        propagation.publish()
    # Nothing was marked published: the sweep will send everything again.
    assert ConsentOutbox.objects.filter(published_at__isnull=True).count() == 1


def test_the_sweep_redispatches_quiet_due_targets_and_expired_claims(
    world: World, monkeypatch, settings
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(propagation, "_send", _recorder(sent))
    withdraw(world.a, "training")
    propagation.publish()
    sent.clear()
    now = timezone.now()
    # Just dispatched: nothing to re-send yet.
    assert propagation.sweep(now=now) == 0
    later = now + datetime.timedelta(seconds=settings.PROPAGATION_REDISPATCH_SECONDS + 1)
    assert propagation.sweep(now=later) == 3
    assert len(sent) == 3
    # A claim whose worker vanished is re-sent once its lease has run out.
    target = _target(TargetKind.RELEASE)
    assert propagation.claim(target_id=target.pk, token="lost", now=later)
    sent.clear()
    much_later = later + datetime.timedelta(seconds=settings.PROPAGATION_LEASE_SECONDS + 1)
    propagation.sweep(now=much_later)
    assert target.pk in sent
    # Done targets are never re-sent.
    deliver_all()
    sent.clear()
    far = much_later + datetime.timedelta(days=1)
    propagation.sweep(now=far)
    assert not set(sent) & set(
        PropagationTarget.objects.filter(status__in=REACHED_STATUSES).values_list("pk", flat=True)
    )


def test_bipa_retention_destroys_exactly_the_templates_that_are_due(notices, audio_dir) -> None:
    from consent.services.biometrics import (
        enroll_voiceprint,
        mark_voiceprint_purpose_met,
        record_voiceprint_interaction,
    )
    from tests.consent.conftest import give
    from tests.factories import SpeakerFactory

    start = timezone.now() - datetime.timedelta(days=3 * 365 + 30)
    speakers = [SpeakerFactory(jurisdiction="US-IL") for _ in range(4)]
    with time_machine.travel(start, tick=False):
        for speaker in speakers:
            give(speaker, "biometric")
        templates = [
            enroll_voiceprint(speaker=s, template=f"t{i}".encode()) for i, s in enumerate(speakers)
        ]
    # 0: untouched for 3 years + a month → due. 1: used a year ago → kept.
    # 2: purpose met yesterday → due. 3: used yesterday → kept.
    record_voiceprint_interaction(
        template=templates[1], at=timezone.now() - datetime.timedelta(days=365)
    )
    mark_voiceprint_purpose_met(
        template=templates[2], at=timezone.now() - datetime.timedelta(days=1)
    )
    record_voiceprint_interaction(
        template=templates[3], at=timezone.now() - datetime.timedelta(days=1)
    )
    assert templates[0].retention_until == start + datetime.timedelta(days=1095)
    assert propagation.destroy_due_voiceprints() == 2
    states = {t.pk: VoiceprintTemplate.objects.get(pk=t.pk) for t in templates}
    assert [states[t.pk].destroyed_at is not None for t in templates] == [True, False, True, False]
    assert "retention" in states[templates[0].pk].destruction_reason
    assert "purpose met" in states[templates[2].pk].destruction_reason
    assert not (audio_dir / templates[0].storage_name).exists()
    assert (audio_dir / templates[1].storage_name).exists()
    assert propagation.destroy_due_voiceprints() == 0  # nothing twice


def test_a_voiceprint_needs_biometric_consent_in_force(notices, audio_dir) -> None:
    from consent.services.biometrics import BiometricConsentMissing, enroll_voiceprint
    from tests.factories import SpeakerFactory

    speaker = SpeakerFactory()
    with pytest.raises(BiometricConsentMissing):
        enroll_voiceprint(speaker=speaker, template=b"t")
    assert not VoiceprintTemplate.objects.exists()
    assert not list(audio_dir.rglob("*.bin"))


def test_the_plan_is_published_after_commit_with_one_message(
    world: World, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    published: list[list[int]] = []
    monkeypatch.setattr(propagation, "_send_publish", published.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        withdraw(world.a, "training")
    assert published == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert published == [[ConsentOutbox.objects.get().pk]]


def test_webhook_secrets_are_encrypted_at_rest_and_survive_key_rotation(
    world: World, settings
) -> None:
    from cryptography.fernet import Fernet
    from django.db import connection

    from registry.key_rotation import rotate_pii_keys

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM propagation_webhookendpoint WHERE is_active")
        (stored,) = cursor.fetchone()
    assert world.secret not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    rotate_pii_keys()
    assert WebhookEndpoint.objects.get(is_active=True).secret == world.secret
