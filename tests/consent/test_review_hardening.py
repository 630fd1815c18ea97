"""Refusals and invariants added after review: the speaker's language cannot be
bypassed, a general withdrawal reaches every scope, written evidence is inside the
chain, receipts are kept as issued, verification needs a head and a sound chain."""

from __future__ import annotations

import datetime
import re
import threading

import pgtrigger
import pytest
import time_machine
from django.db import ProgrammingError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from consent import chain, services
from consent.eligibility import eligible_recordings
from consent.errors import EvidenceIncomplete, EvidenceNotAllowed, NoticeWrongLanguage
from consent.models import (
    ActorKind,
    ChainHead,
    Consent,
    ConsentEvent,
    ConsentOutbox,
    ConsentReceipt,
    ConsentSignature,
    ConsentState,
    Purpose,
)
from consent.receipts import signed_receipt
from registry import pii
from tests.consent.conftest import give, signed, spoken, withdraw
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


def test_an_eu_speaker_cannot_be_given_the_english_notice(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="DE", preferred_language="de")
    with pytest.raises(NoticeWrongLanguage):
        give(speaker, Purpose.TRAINING, notice=notices[("training", "EU", "en")])
    assert ConsentEvent.objects.count() == 0
    # A US speaker may read the English notice whatever their preferred language.
    us = SpeakerFactory(jurisdiction="US-NY", preferred_language="es")
    assert give(us, Purpose.TRAINING).state == ConsentState.GIVEN


def test_texas_biometric_consent_cannot_be_recorded_by_staff_from_2026(notices) -> None:
    staff = services.Actor(ActorKind.STAFF, "staff:3")
    speaker = SpeakerFactory(jurisdiction="US-TX")
    notice = notices[("biometric", "US", "en")]
    with pytest.raises(EvidenceNotAllowed, match="by the speaker themselves"):
        services.give_consent(
            speaker=speaker, purpose="biometric", notice=notice, evidence=spoken(), actor=staff
        )
    with time_machine.travel(datetime.datetime(2025, 12, 31, 12, tzinfo=datetime.UTC)):
        consent = services.give_consent(
            speaker=speaker, purpose="biometric", notice=notice, evidence=spoken(), actor=staff
        )
    assert consent.state == ConsentState.GIVEN
    # Elsewhere staff may still record a speaker's spoken consent.
    services.give_consent(
        speaker=SpeakerFactory(jurisdiction="US-NY"),
        purpose="biometric",
        notice=notice,
        evidence=spoken(),
        actor=staff,
    )


def test_a_general_withdrawal_also_withdraws_consents_given_for_single_calls(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    session = services.create_recording_session(
        external_ref="call-x", jurisdiction="US-CA", language="en", speakers=[a, b]
    )
    for speaker in (a, b):
        give(speaker, Purpose.RECORDING, session=session)
        give(speaker, Purpose.TRAINING, session=session)
    give(a, Purpose.TRAINING)  # and in general
    recording = services.start_recording(
        session=session, external_ref="rec-x", duration_ms=1000, sample_rate_hz=16000
    )
    from registry import services as catalogue

    catalogue.attach_recording_audio(recording=recording, audio_uri="s3://x", audio_sha256="c" * 64)
    assert eligible_recordings(purpose=Purpose.TRAINING).filter(pk=recording.pk).exists()
    withdraw(a, Purpose.TRAINING)
    states = set(
        Consent.objects.filter(speaker=a, purpose="training").values_list("session", "state")
    )
    assert states == {(None, "withdrawn"), (session.pk, "withdrawn")}
    assert ConsentOutbox.objects.filter(event__speaker=a).count() == 2
    assert not eligible_recordings(purpose=Purpose.TRAINING).filter(pk=recording.pk).exists()


def test_a_typed_signature_is_bound_to_its_event_by_a_keyed_digest(notices) -> None:
    speaker = SpeakerFactory()
    event = give(speaker, Purpose.LIKENESS, evidence=signed("Ｍaria Hernández ")).last_event
    assert event.evidence_sha256 == pii.keyed_digest("signed-name", "maria hernández")
    with pytest.raises(ProgrammingError), transaction.atomic():
        ConsentSignature.objects.filter(event=event).delete()


def test_a_signed_web_form_event_cannot_lack_its_digest(notices) -> None:
    event = give(SpeakerFactory(), Purpose.TRAINING).last_event
    with (
        pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"),
        pytest.raises(Exception, match="event_evidence_has_digest"),
        transaction.atomic(),
    ):
        ConsentEvent.objects.filter(pk=event.pk).update(evidence_sha256="")


def test_a_future_timestamp_on_the_evidence_is_refused(notices) -> None:
    later = timezone.now() + datetime.timedelta(hours=1)
    with pytest.raises(EvidenceIncomplete, match="occurred_at"):
        give(SpeakerFactory(), Purpose.TRAINING, evidence=signed(occurred_at=later))


def test_receipts_are_issued_with_the_event_and_kept_as_issued(notices) -> None:
    event = give(SpeakerFactory(), Purpose.TRAINING).last_event
    first = signed_receipt(event)
    assert ConsentReceipt.objects.filter(event=event).exists()
    with override_settings(CONSENT_POLICY_URL="https://elsewhere.example/policy"):
        assert signed_receipt(event) == first
    assert first["receipt"]["publicKey"]["kty"] == "OKP"
    with pytest.raises(ProgrammingError), transaction.atomic():
        ConsentReceipt.objects.filter(event=event).update(document={})


def test_a_missing_chain_head_is_reported(notices) -> None:
    give(SpeakerFactory(), Purpose.TRAINING)
    with pgtrigger.ignore("consent.ChainHead:chain_head_not_deleted"):
        ChainHead.objects.all().delete()
    report = chain.verify_chain()
    assert report.problem == "the chain head is missing although events exist"


def test_a_checkpoint_is_never_signed_over_a_broken_chain(notices) -> None:
    give(SpeakerFactory(), Purpose.TRAINING)
    with pgtrigger.ignore("consent.ConsentEvent:consent_event_append_only"):
        ConsentEvent.objects.update(actor_ref="someone else")
    with pytest.raises(chain.ChainBroken, match="content was changed"):
        chain.write_checkpoint()


def test_the_session_records_each_participants_consent_as_requested(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    session = services.create_recording_session(
        external_ref="call-r", jurisdiction="US-CA", language="en", speakers=[a, b]
    )
    rows = Consent.objects.filter(session=session, purpose="recording")
    assert set(rows.values_list("state", flat=True)) == {"requested"}
    assert ConsentEvent.objects.filter(action="request", session=session).count() == 2
    give(a, Purpose.RECORDING, session=session)
    assert rows.get(speaker=a).state == ConsentState.GIVEN


def test_eligibility_can_use_the_valid_consent_index(notices) -> None:
    recording = RecordingFactory()
    give(recording.tracks.first().speaker, Purpose.RECORDING)
    sql, params = eligible_recordings(purpose=Purpose.TRAINING).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # The consent probes are index scans on consent_consent, never a scan of the table.
    assert re.search(r"Index (Only )?Scan using \w+ on consent_consent", plan), plan
    assert "Seq Scan on consent_consent" not in plan


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_expiry_running_beside_speakers_acting_never_deadlocks(notices) -> None:
    speakers = [SpeakerFactory(jurisdiction="US-IL") for _ in range(4)]
    for speaker in speakers:
        give(speaker, Purpose.BIOMETRIC)
        give(speaker, Purpose.TRAINING)
    due = Consent.objects.filter(purpose="biometric").first().expires_at
    errors: list[Exception] = []
    barrier = threading.Barrier(3)

    def run(work) -> None:
        try:
            barrier.wait()
            with time_machine.travel(due + datetime.timedelta(minutes=1), tick=False):
                work()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def acts() -> None:
        for speaker in speakers:
            withdraw(speaker, Purpose.TRAINING)
            give(speaker, Purpose.TRAINING)

    threads = [
        threading.Thread(target=run, args=(w,))
        for w in (services.expire_consents, acts, services.expire_consents)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with time_machine.travel(due + datetime.timedelta(minutes=2), tick=False):
        services.expire_consents()
    assert set(Consent.objects.filter(purpose="biometric").values_list("state", flat=True)) == {
        "expired"
    }
    assert ConsentEvent.objects.filter(action="expire").count() == 4
    assert chain.verify_chain().ok
