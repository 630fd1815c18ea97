"""The age and order gates through the collection platform's API: registration, consent
acts, session requests and the clearance answer (under-age and erased participants)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import services
from consent.models import (
    Consent,
    ConsentAction,
    ConsentEvent,
    EvidenceMethod,
    Purpose,
    RecordingSession,
)
from consent.selectors import current_notice
from registry.models import AgeVerificationMethod, Speaker, TokenScope
from tests.api.helpers import assert_problem, collector_client, staff_client
from tests.consent.conftest import give
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

WRITE = [TokenScope.WRITE_CONSENT]
TODAY = datetime.datetime.now(datetime.UTC).date()


def years_ago(years: int) -> str:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28)).isoformat()


SPEAKER = {
    "name": "Dana Example",
    "jurisdiction": "US-IL",
    "preferred_language": "en",
    "age_verification_method": "platform_attestation",
    "age_attested_minimum": 18,
}


def register(**change: Any) -> Any:
    return collector_client(WRITE).post(
        reverse("api:collector-speakers"), {**SPEAKER, **change}, format="json"
    )


def act(speaker: Speaker, body: dict[str, Any]) -> Any:
    return collector_client(WRITE).post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id}),
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def give_body(speaker: Speaker, purpose: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": "give",
        "purpose": purpose,
        "notice": str(current_notice(speaker=speaker, purpose=purpose).public_id),
        "evidence": {"method": "web_form_signed", "signed_name": "Dana Example"},
        **extra,
    }


def clearance(session: RecordingSession) -> dict[str, Any]:
    response = collector_client(WRITE).get(
        reverse("api:collector-session-clearance", kwargs={"session_id": session.public_id})
    )
    assert response.status_code == 200, response.content
    return response.json()


def a_session(first: Speaker, second: Speaker | None = None) -> RecordingSession:
    return services.create_recording_session(
        external_ref=f"call-{first.pk}",
        jurisdiction="US-IL",
        language="en",
        speakers=[first, second or SpeakerFactory()],
    )


# --- Registration ----------------------------------------------------------------------


def test_a_16_year_old_date_of_birth_beside_an_adult_attestation_is_refused(db) -> None:
    assert_problem(register(date_of_birth=years_ago(16)), 403, "below_minimum_age")
    assert not Speaker.objects.exists()


def test_a_date_of_birth_in_1800_is_refused(db) -> None:
    body = assert_problem(
        register(
            age_verification_method="date_of_birth",
            age_attested_minimum=None,
            date_of_birth="1800-01-01",
        ),
        400,
        "date_of_birth_implausible",
    )
    assert "1900" in body["detail"]
    assert not Speaker.objects.exists()


def test_a_date_of_birth_in_the_future_is_refused(db) -> None:
    tomorrow = (TODAY + datetime.timedelta(days=1)).isoformat()
    assert_problem(
        register(
            age_verification_method="date_of_birth",
            age_attested_minimum=None,
            date_of_birth=tomorrow,
        ),
        400,
        "date_of_birth_implausible",
    )
    assert not Speaker.objects.exists()


def test_a_date_of_birth_contradicting_the_attested_age_is_refused(db) -> None:
    assert_problem(
        register(age_attested_minimum=30, date_of_birth=years_ago(25)),
        400,
        "age_contradicts_attestation",
    )
    assert not Speaker.objects.exists()


def test_a_date_of_birth_agreeing_with_the_attestation_is_stored_beside_it(db) -> None:
    response = register(date_of_birth=years_ago(40))
    assert response.status_code == 201, response.content
    speaker = Speaker.objects.get()
    assert speaker.date_of_birth.isoformat() == years_ago(40)
    assert speaker.age_verification_method == AgeVerificationMethod.PLATFORM_ATTESTATION


def test_an_under_18_date_of_birth_method_is_refused_as_below_minimum_age(db) -> None:
    assert_problem(
        register(
            age_verification_method="date_of_birth",
            age_attested_minimum=None,
            date_of_birth=years_ago(17),
        ),
        403,
        "below_minimum_age",
    )
    assert not Speaker.objects.exists()


# --- Consent acts ----------------------------------------------------------------------


def test_a_stored_minor_cannot_give_consent_through_the_api(notices) -> None:
    speaker = SpeakerFactory(date_of_birth=datetime.date(1990, 1, 1))
    Speaker.objects.filter(pk=speaker.pk).update(
        date_of_birth=datetime.date.fromisoformat(years_ago(16))
    )
    before = ConsentEvent.objects.count()
    assert_problem(act(speaker, give_body(speaker, Purpose.RECORDING)), 403, "below_minimum_age")
    assert ConsentEvent.objects.count() == before


def test_session_consent_dated_before_the_invitation_is_refused(notices) -> None:
    speaker = SpeakerFactory()
    session = a_session(speaker)
    early = (session.created_at - datetime.timedelta(hours=1)).isoformat()
    body = give_body(speaker, Purpose.RECORDING, session=str(session.public_id))
    body["evidence"]["occurred_at"] = early
    before = ConsentEvent.objects.count()
    assert_problem(act(speaker, body), 422, "act_before_request")
    assert ConsentEvent.objects.count() == before
    assert Consent.objects.get(speaker=speaker, session=session).state == "requested"


def test_consent_dated_before_its_notice_was_published_is_refused(notices) -> None:
    speaker = SpeakerFactory()
    notice = current_notice(speaker=speaker, purpose=Purpose.TRAINING)
    body = give_body(speaker, Purpose.TRAINING)
    body["evidence"]["occurred_at"] = (notice.created_at - datetime.timedelta(days=1)).isoformat()
    assert_problem(act(speaker, body), 422, "notice_not_yet_published")
    assert not Consent.objects.filter(speaker=speaker).exists()


def test_a_request_cannot_be_sent_as_the_evidence_of_an_act(notices) -> None:
    speaker = SpeakerFactory()
    body = give_body(speaker, Purpose.TRAINING)
    body["evidence"] = {"method": "request"}
    response = act(speaker, body)
    assert response.status_code == 400
    assert not Consent.objects.filter(speaker=speaker).exists()


# --- Session requests ------------------------------------------------------------------


def test_opening_a_session_writes_requests_with_the_request_method(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    response = collector_client(WRITE).post(
        reverse("api:collector-sessions"),
        {
            "external_ref": "call-requests",
            "jurisdiction": "US-IL",
            "language": "en",
            "participants": [
                {"channel": 0, "speaker": str(a.public_id)},
                {"channel": 1, "speaker": str(b.public_id)},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    requests = ConsentEvent.objects.filter(action=ConsentAction.REQUEST)
    assert sorted(requests.values_list("evidence_method", flat=True)) == ["request", "request"]


def test_the_staff_api_shows_a_session_request_with_the_request_method(notices) -> None:
    speaker = SpeakerFactory()
    a_session(speaker)
    response = staff_client().get(
        reverse("api:staff-speaker-events", kwargs={"speaker_id": speaker.public_id})
    )
    assert response.status_code == 200, response.content
    results = response.json()
    events = results["results"] if isinstance(results, dict) else results
    assert [(e["action"], e["evidence_method"]) for e in events] == [
        ("request", EvidenceMethod.REQUEST)
    ]


# --- Clearance -------------------------------------------------------------------------


def test_clearance_reports_an_under_age_participant_as_blocked_not_missing(notices) -> None:
    minor = SpeakerFactory(date_of_birth=None, age_verification_method="unverified")
    session = a_session(minor)
    with pytest.raises(services.ConsentError):
        services.verify_participant_age(
            participant=session.participants.get(speaker=minor),
            date_of_birth=datetime.date.fromisoformat(years_ago(15)),
        )
    body = clearance(session)
    own = body["participants"][0]
    assert (own["consented"], own["missing"], own["blocked"], own["erased"]) == (
        False,
        [],
        "under_age",
        False,
    )
    assert (body["cleared"], body["blocked"]) == (False, True)


def test_clearance_reports_an_erased_participant_as_erased_not_missing(notices) -> None:
    leaving, staying = SpeakerFactory(), SpeakerFactory()
    session = a_session(leaving, staying)
    give(staying, Purpose.RECORDING, session=session)
    services.request_erasure(
        speaker=leaving,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(leaving),
    )
    body = clearance(session)
    gone = body["participants"][0]
    assert (gone["erased"], gone["blocked"], gone["missing"], gone["consented"]) == (
        True,
        "erased",
        [],
        False,
    )
    assert body["participants"][1]["blocked"] is None
    assert (body["cleared"], body["blocked"]) == (False, True)


def test_a_blocked_session_cannot_start_recording(notices) -> None:
    leaving, staying = SpeakerFactory(), SpeakerFactory()
    session = a_session(leaving, staying)
    give(leaving, Purpose.RECORDING)  # a standing consent would otherwise cover the call
    give(staying, Purpose.RECORDING)
    services.request_erasure(
        speaker=leaving,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(leaving),
    )
    with pytest.raises(services.ConsentError) as raised:
        services.start_recording(
            session=session,
            external_ref="never",
            duration_ms=1000,
            sample_rate_hz=16000,
            recorded_at=timezone.now(),
        )
    assert raised.value.code == "session_not_cleared"
    assert clearance(session)["participants"][0]["erased"] is True
