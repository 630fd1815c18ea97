"""Age as jurisdiction data, one gate for every door (registry.services.check_age):
registration, invitation answers and every consent act refuse an implausible date of
birth, an attestation the date of birth contradicts, and anyone below the minimum age
for the purpose and place; an under-age answer closes the invitation for good."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction

from consent import services
from consent.errors import AgeAnswerRefused, BelowMinimumAge, InvitationClosed
from consent.models import (
    ActorKind,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    JurisdictionRule,
    ParticipantClosedReason,
    Purpose,
    SessionParticipant,
)
from consent.selectors import cleared_to_record, session_clearance
from registry import services as catalogue
from registry.errors import InvalidInput
from registry.models import AgeVerificationMethod, Speaker
from tests.consent.conftest import give
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime.now(datetime.UTC).date()


def years_ago(years: int) -> datetime.date:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28))


def unverified(**kwargs) -> Speaker:
    return SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED, **kwargs
    )


def attested(minimum: int = 18, **kwargs) -> Speaker:
    return SpeakerFactory(
        age_verification_method=AgeVerificationMethod.PLATFORM_ATTESTATION,
        age_attested_minimum=minimum,
        **{"date_of_birth": None, **kwargs},
    )


def open_session(first: Speaker, jurisdiction: str = "US-IL"):
    return services.create_recording_session(
        external_ref=f"call-{first.pk}",
        jurisdiction=jurisdiction,
        language="en",
        speakers=[first, SpeakerFactory()],
    )


# --- Registration ----------------------------------------------------------------------


def test_a_date_of_birth_under_18_beside_an_adult_attestation_is_refused_as_below_minimum_age():
    with pytest.raises(catalogue.BelowMinimumAge):
        attested(18, date_of_birth=years_ago(16))
    assert not Speaker.objects.exists()


def test_a_date_of_birth_showing_fewer_years_than_attested_is_refused_as_a_contradiction():
    with pytest.raises(catalogue.AgeContradictsAttestation) as raised:
        attested(30, date_of_birth=years_ago(25))
    assert raised.value.code == "age_contradicts_attestation"
    assert not Speaker.objects.exists()


def test_a_date_of_birth_agreeing_with_an_attestation_is_kept_beside_it():
    speaker = attested(18, date_of_birth=years_ago(40))
    speaker.refresh_from_db()
    assert speaker.date_of_birth == years_ago(40)
    assert speaker.age_attested_minimum == 18
    assert speaker.age_verification_method == AgeVerificationMethod.PLATFORM_ATTESTATION


def test_a_date_of_birth_with_an_unverified_method_is_refused_not_dropped():
    with pytest.raises(InvalidInput, match="age_verification_method"):
        SpeakerFactory(
            date_of_birth=years_ago(30), age_verification_method=AgeVerificationMethod.UNVERIFIED
        )
    assert not Speaker.objects.exists()


def test_an_attested_minimum_beside_a_self_declared_date_of_birth_is_refused_not_dropped():
    with pytest.raises(InvalidInput, match="age_attested_minimum"):
        SpeakerFactory(date_of_birth=years_ago(30), age_attested_minimum=21)
    assert not Speaker.objects.exists()


@pytest.mark.parametrize(
    "date_of_birth",
    [datetime.date(1800, 1, 1), datetime.date(1899, 12, 31), TODAY + datetime.timedelta(days=1)],
)
def test_a_date_of_birth_before_1900_or_in_the_future_is_refused_at_registration(date_of_birth):
    with pytest.raises(catalogue.ImplausibleDateOfBirth) as raised:
        SpeakerFactory(date_of_birth=date_of_birth)
    assert raised.value.code == "date_of_birth_implausible"
    assert not Speaker.objects.exists()


def test_an_attestation_of_more_than_120_years_is_refused():
    with pytest.raises(InvalidInput, match="120"):
        attested(121)


# --- What the database itself refuses --------------------------------------------------


def test_the_database_refuses_an_implausible_attested_age():
    speaker = attested(21)
    with pytest.raises(IntegrityError), transaction.atomic():
        Speaker.objects.filter(pk=speaker.pk).update(age_attested_minimum=500)


def test_the_birth_date_field_refuses_a_date_before_1900_on_any_write():
    speaker = SpeakerFactory()
    with pytest.raises(ValueError, match="implausible date of birth"), transaction.atomic():
        Speaker.objects.filter(pk=speaker.pk).update(date_of_birth=datetime.date(1800, 1, 1))
    speaker.refresh_from_db()
    assert speaker.date_of_birth == datetime.date(1990, 5, 17)


# --- Consent acts ----------------------------------------------------------------------


def test_a_stored_minor_with_an_adult_attestation_cannot_give_consent(notices):
    # A row written before this gate: a 16-year-old's date of birth beside "18 attested".
    speaker = attested(18, date_of_birth=years_ago(40))
    Speaker.objects.filter(pk=speaker.pk).update(date_of_birth=years_ago(16))
    speaker.refresh_from_db()
    with pytest.raises(BelowMinimumAge):
        give(speaker, Purpose.RECORDING)
    assert not Consent.objects.filter(speaker=speaker).exists()


def test_the_minimum_age_of_a_purpose_comes_from_the_jurisdiction_rule(notices):
    JurisdictionRule.objects.create(
        jurisdiction_id="US-IL",
        purpose=Purpose.LIKENESS,
        effective_from=TODAY - datetime.timedelta(days=1),
        min_age=21,
        citation="Hypothetical likeness age rule",
        summary="Likeness consent from 21.",
    )
    speaker = SpeakerFactory(date_of_birth=years_ago(19))
    with pytest.raises(BelowMinimumAge, match="at least 21"):
        give(speaker, Purpose.LIKENESS)
    assert give(speaker, Purpose.TRAINING).state == ConsentState.GIVEN


# --- Invitation answers ----------------------------------------------------------------


def test_an_under_age_answer_closes_the_invitation_with_a_refusal_event_and_keeps_no_date(
    notices,
):
    speaker = unverified()
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    with pytest.raises(BelowMinimumAge):
        services.verify_participant_age(participant=participant, date_of_birth=years_ago(16))
    participant.refresh_from_db()
    assert participant.closed_reason == ParticipantClosedReason.UNDER_AGE
    assert participant.closed_at is not None
    event = ConsentEvent.objects.filter(speaker=speaker, session=session).latest("seq")
    assert (event.action, event.purpose, event.state) == (
        ConsentAction.REFUSE,
        Purpose.RECORDING,
        ConsentState.REFUSED,
    )
    assert (event.actor_kind, event.actor_ref) == (ActorKind.SYSTEM, "age-gate:under_age")
    speaker.refresh_from_db()
    assert speaker.date_of_birth is None
    assert speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED


def test_a_session_with_an_under_age_participant_never_clears(notices):
    speaker = unverified()
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    with pytest.raises(BelowMinimumAge):
        services.verify_participant_age(participant=participant, date_of_birth=years_ago(16))
    own = next(p for p in session_clearance(session) if p.channel == participant.channel)
    assert (own.consented, own.blocked) == (False, ParticipantClosedReason.UNDER_AGE)
    assert cleared_to_record(session) is False


def test_re_answering_a_closed_invitation_with_an_adult_date_is_refused(notices):
    speaker = unverified()
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    with pytest.raises(BelowMinimumAge):
        services.verify_participant_age(participant=participant, date_of_birth=years_ago(16))
    with pytest.raises(InvitationClosed):
        services.participant_from_invitation(services.invitation_token(participant))
    speaker.refresh_from_db()
    assert speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED


def test_an_under_age_answer_on_one_link_blocks_self_declared_dates_on_any_other(notices):
    speaker = unverified()
    first = open_session(speaker)
    with pytest.raises(BelowMinimumAge):
        services.verify_participant_age(
            participant=first.participants.get(speaker=speaker), date_of_birth=years_ago(16)
        )
    second = services.create_recording_session(
        external_ref="second-call",
        jurisdiction="US-IL",
        language="en",
        speakers=[speaker, SpeakerFactory()],
    )
    with pytest.raises(AgeAnswerRefused):
        services.verify_participant_age(
            participant=second.participants.get(speaker=speaker), date_of_birth=years_ago(30)
        )
    speaker.refresh_from_db()
    assert speaker.date_of_birth is None


def test_a_closed_participant_cannot_give_recording_consent_for_that_call(notices):
    speaker = attested(18)
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    services.close_participation(
        participant=participant,
        reason=ParticipantClosedReason.UNDER_AGE,
        evidence=services.Evidence(method="web_form"),
    )
    with pytest.raises(InvitationClosed):
        give(speaker, Purpose.RECORDING, session=session)
    assert not cleared_to_record(session)


def test_an_implausible_invitation_answer_changes_nothing(notices):
    speaker = unverified()
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    events = ConsentEvent.objects.count()
    with pytest.raises(catalogue.ImplausibleDateOfBirth):
        services.verify_participant_age(
            participant=participant, date_of_birth=datetime.date(1800, 1, 1)
        )
    participant.refresh_from_db()
    assert participant.closed_reason == ""
    assert ConsentEvent.objects.count() == events


def test_a_closed_invitation_cannot_be_reopened_in_the_database(notices):
    speaker = unverified()
    session = open_session(speaker)
    participant = session.participants.get(speaker=speaker)
    with pytest.raises(BelowMinimumAge):
        services.verify_participant_age(participant=participant, date_of_birth=years_ago(16))
    with pytest.raises(Exception, match="Cannot update"), transaction.atomic():
        SessionParticipant.objects.filter(pk=participant.pk).update(
            closed_reason="", closed_at=None
        )
    participant.refresh_from_db()
    assert participant.closed_reason == ParticipantClosedReason.UNDER_AGE
