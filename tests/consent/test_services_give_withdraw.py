"""Giving, withdrawing, renewing and refusing consent: what is written, what is refused."""

from __future__ import annotations

import inspect

import pytest

from consent import services
from consent.errors import (
    AgeNotVerified,
    ConsentAlreadyGiven,
    ConsentIsValid,
    ConsentNotRenewable,
    EvidenceIncomplete,
    EvidenceNotAllowed,
    NoticeNotCurrent,
    NoticeWrongPurpose,
    SpeakerErased,
)
from consent.models import (
    ActorKind,
    Consent,
    ConsentEvent,
    ConsentNotice,
    ConsentOutbox,
    ConsentSignature,
    ConsentState,
    EvidenceMethod,
    OutboxKind,
    Purpose,
)
from registry.errors import InvalidInput
from registry.models import AgeVerificationMethod
from tests.consent.conftest import give, publish, refuse, renew, signed, spoken, withdraw
from tests.factories import SpeakerFactory, erase_speaker_row

pytestmark = pytest.mark.django_db


def test_giving_consent_writes_one_event_and_the_current_state(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="US-NY")
    consent = give(speaker, Purpose.TRAINING, evidence=signed(ip_address="203.0.113.9"))
    event = ConsentEvent.objects.get()
    assert consent.state == ConsentState.GIVEN
    assert consent.last_event == event
    assert consent.given_at == event.recorded_at
    assert (event.purpose, event.action, event.state) == ("training", "give", "given")
    notice = notices[("training", "US", "en")]
    assert event.notice == notice
    assert event.notice_language == "en"
    assert event.notice_sha256 == notice.text_sha256
    assert event.actor_kind == ActorKind.SPEAKER
    assert event.actor_ref == str(speaker.public_id)
    # The IP is kept only as a keyed hash.
    assert len(event.ip_hash) == 64
    assert "203.0.113.9" not in event.ip_hash
    assert ConsentSignature.objects.get(event=event).signed_name == "Test Speaker"


def test_giving_one_purpose_gives_no_other(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.RECORDING)
    assert list(Consent.objects.values_list("purpose", flat=True)) == ["recording"]


def test_services_accept_exactly_one_purpose(notices) -> None:
    speaker = SpeakerFactory()
    notice = notices[("training", "US", "en")]
    with pytest.raises(InvalidInput, match="exactly one purpose"):
        services.give_consent(
            speaker=speaker,
            purpose=["training", "redistribution"],
            notice=notice,
            evidence=signed(),
            actor=services.Actor.of_speaker(speaker),
        )
    assert ConsentEvent.objects.count() == 0
    for service in (
        services.give_consent,
        services.withdraw_consent,
        services.renew_consent,
        services.refuse_consent,
    ):
        parameters = inspect.signature(service).parameters
        assert "purpose" in parameters
        assert not any(name.endswith("purposes") for name in parameters)


def test_the_first_use_of_a_notice_marks_it_served(notices) -> None:
    speaker = SpeakerFactory()
    notice = notices[("recording", "US", "en")]
    assert notice.first_served_at is None
    give(speaker, Purpose.RECORDING)
    notice.refresh_from_db()
    assert notice.first_served_at is not None


def test_withdrawing_writes_the_event_and_an_outbox_row_together(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    consent = withdraw(speaker, Purpose.TRAINING)
    assert consent.state == ConsentState.WITHDRAWN
    event = ConsentEvent.objects.get(action="withdraw")
    outbox = ConsentOutbox.objects.get()
    assert outbox.event == event
    assert outbox.kind == OutboxKind.WITHDRAWAL
    assert outbox.payload["speaker"] == str(speaker.public_id)
    assert outbox.payload["purpose"] == "training"
    # Ids only: no personal data travels to propagation.
    assert speaker.email not in str(outbox.payload)


def test_withdrawing_twice_is_a_no_op_the_second_time(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    first = withdraw(speaker, Purpose.TRAINING)
    second = withdraw(speaker, Purpose.TRAINING)
    assert second.pk == first.pk
    assert second.last_event_id == first.last_event_id
    assert ConsentEvent.objects.filter(action="withdraw").count() == 1
    assert ConsentOutbox.objects.count() == 1


def test_withdrawing_what_was_never_given_writes_nothing(notices) -> None:
    speaker = SpeakerFactory()
    assert withdraw(speaker, Purpose.LIKENESS) is None
    assert ConsentEvent.objects.count() == 0


def test_withdrawing_needs_no_more_than_one_click_even_where_giving_needed_a_signature(
    notices,
) -> None:
    speaker = SpeakerFactory(jurisdiction="US-IL")
    give(speaker, Purpose.BIOMETRIC)  # BIPA: written consent
    consent = withdraw(speaker, Purpose.BIOMETRIC)  # a plain web form click
    assert consent.state == ConsentState.WITHDRAWN


def test_giving_again_while_given_is_refused(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    with pytest.raises(ConsentAlreadyGiven):
        give(speaker, Purpose.TRAINING)
    assert ConsentEvent.objects.count() == 1


def test_giving_after_a_withdrawal_starts_a_new_period(notices) -> None:
    speaker = SpeakerFactory()
    first = give(speaker, Purpose.TRAINING).given_at
    withdraw(speaker, Purpose.TRAINING)
    again = give(speaker, Purpose.TRAINING)
    assert again.state == ConsentState.GIVEN
    assert again.given_at > first


def test_a_stale_notice_is_refused(notices) -> None:
    speaker = SpeakerFactory()
    old = notices[("training", "US", "en")]
    publish("training", "US", "en", body="A materially changed text.")
    with pytest.raises(NoticeNotCurrent):
        give(speaker, Purpose.TRAINING, notice=old)
    assert ConsentEvent.objects.count() == 0


def test_a_notice_for_another_purpose_is_refused(notices) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(NoticeWrongPurpose):
        give(speaker, Purpose.TRAINING, notice=notices[("likeness", "US", "en")])


def test_an_unverified_speaker_cannot_consent(notices) -> None:
    speaker = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    with pytest.raises(AgeNotVerified):
        give(speaker, Purpose.RECORDING)


def test_an_erased_speaker_cannot_consent(notices) -> None:
    speaker = erase_speaker_row(SpeakerFactory())
    with pytest.raises(SpeakerErased):
        give(speaker, Purpose.RECORDING)


def test_file_evidence_needs_its_digest(notices) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(EvidenceIncomplete):
        give(speaker, Purpose.TRAINING, evidence=services.Evidence(method="spoken_phrase"))
    with pytest.raises(EvidenceIncomplete):
        give(speaker, Purpose.TRAINING, evidence=services.Evidence(method="web_form_signed"))


def test_the_system_cannot_give_consent_for_anyone(notices) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(EvidenceNotAllowed):
        give(speaker, Purpose.TRAINING, evidence=services.Evidence(method=EvidenceMethod.SYSTEM))


def test_staff_can_record_consent_only_with_the_speakers_own_evidence(notices) -> None:
    speaker = SpeakerFactory()
    notice = notices[("training", "US", "en")]
    staff = services.Actor(ActorKind.STAFF, "staff:7")
    with pytest.raises(EvidenceNotAllowed, match="staff"):
        services.give_consent(
            speaker=speaker,
            purpose="training",
            notice=notice,
            evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
            actor=staff,
        )
    consent = services.give_consent(
        speaker=speaker, purpose="training", notice=notice, evidence=spoken(), actor=staff
    )
    assert consent.last_event.actor_kind == ActorKind.STAFF


def test_refusing_is_recorded_and_a_given_consent_cannot_be_refused(notices) -> None:
    speaker = SpeakerFactory()
    assert refuse(speaker, Purpose.LIKENESS).state == ConsentState.REFUSED
    give(speaker, Purpose.TRAINING)
    with pytest.raises(ConsentIsValid):
        refuse(speaker, Purpose.TRAINING)


def test_renewal_under_a_new_notice_keeps_the_original_start(notices) -> None:
    speaker = SpeakerFactory()
    given = give(speaker, Purpose.TRAINING)
    new_notice = publish("training", "US", "en", body="Version two.")
    renewed = renew(speaker, Purpose.TRAINING, notice=new_notice)
    assert renewed.state == ConsentState.RENEWED
    assert renewed.notice == new_notice
    assert renewed.given_at == given.given_at


def test_only_a_given_or_expired_consent_can_be_renewed(notices) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(ConsentNotRenewable):
        renew(speaker, Purpose.TRAINING)
    give(speaker, Purpose.TRAINING)
    withdraw(speaker, Purpose.TRAINING)
    with pytest.raises(ConsentNotRenewable):
        renew(speaker, Purpose.TRAINING)


def test_state_always_equals_the_last_event(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    withdraw(speaker, Purpose.TRAINING)
    give(speaker, Purpose.TRAINING)
    consent = Consent.objects.get(speaker=speaker, purpose="training")
    last = ConsentEvent.objects.filter(speaker=speaker, purpose="training").order_by("seq").last()
    assert consent.last_event == last
    assert consent.state == last.state


def test_publishing_numbers_versions_and_hashes_the_text(notices) -> None:
    first = notices[("training", "US", "en")]
    second = publish("training", "US", "en", body="Changed.")
    assert (first.version, second.version) == (1, 2)
    assert first.text_sha256 != second.text_sha256
    assert ConsentNotice.objects.filter(purpose="training", jurisdiction="US").count() == 2


def test_publishing_refuses_an_empty_text(db) -> None:
    with pytest.raises(InvalidInput, match="body"):
        publish("training", "US", "en", body="  ")
