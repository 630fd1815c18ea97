"""Refusals found in review: erasure stops new consent, a self-declared birth date never
replaces a stronger age check, per-call consent is withdrawn where it was given, bad
months and malformed receipts are clear errors, and nothing claims an act it did not do."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from consent import services
from consent.errors import ErasureInProgress
from consent.models import Consent, ConsentEvent, ConsentState, EvidenceMethod
from consent.services import create_recording_session, invitation_token
from registry.models import AgeVerificationMethod
from tests.factories import SpeakerFactory
from tests.speakers.conftest import give, sign_in

pytestmark = pytest.mark.django_db


def erase_request(speaker):
    return services.request_erasure(
        speaker=speaker,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(speaker),
    )


def test_after_an_erasure_request_no_consent_can_be_given(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    erase_request(speaker)
    with pytest.raises(ErasureInProgress):
        give(speaker, "training")
    with pytest.raises(ErasureInProgress):
        create_recording_session(
            external_ref="after-erasure",
            jurisdiction="US-IL",
            language="en",
            speakers=[speaker, SpeakerFactory()],
        )
    html = sign_in(client, speaker).get(reverse("speakers:dashboard")).content.decode()
    assert "nothing new can be given" in html
    assert reverse("speakers:give", args=["training"]) not in html


def test_an_invitation_cannot_replace_a_stronger_age_check(client, notices):
    attested = SpeakerFactory(
        date_of_birth=None,
        age_verification_method=AgeVerificationMethod.PLATFORM_ATTESTATION,
        age_attested_minimum=21,
    )
    session = create_recording_session(
        external_ref="age-call",
        jurisdiction="US-IL",
        language="en",
        speakers=[attested, SpeakerFactory()],
    )
    url = reverse(
        "speakers:invitation", args=[invitation_token(session.participants.get(channel=0))]
    )
    response = client.post(url + "age/", {"date_of_birth": "1990-01-01"})
    assert response.status_code == 302
    attested.refresh_from_db()
    assert attested.age_verification_method == AgeVerificationMethod.PLATFORM_ATTESTATION
    assert attested.date_of_birth is None
    assert attested.age_attested_minimum == 21


def test_consent_given_for_one_call_is_withdrawn_from_the_same_page(client, notices):
    first, second = SpeakerFactory(), SpeakerFactory()
    session = create_recording_session(
        external_ref="withdraw-call", jurisdiction="US-IL", language="en", speakers=[first, second]
    )
    give(first, "recording", session=session)
    give(first, "training", session=session)
    url = reverse(
        "speakers:invitation", args=[invitation_token(session.participants.get(channel=0))]
    )
    page = client.get(url).content.decode()
    assert "Withdraw for this call: Training our models" in page
    assert "Withdraw my consent to be recorded on this call" in page
    client.post(url + "withdraw/training/")
    scoped = Consent.objects.get(speaker=first, purpose="training", session=session)
    assert scoped.state == ConsentState.WITHDRAWN
    client.post(url + "withdraw/recording/")
    assert "Not cleared to record yet" in client.get(url).content.decode()


def test_withdrawing_what_is_not_in_force_says_so_and_records_nothing(client, notices):
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    response = client.post(reverse("speakers:withdraw", args=["likeness"]), follow=True)
    assert "nothing to withdraw" in response.content.decode()
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "1999-12"])
def test_an_impossible_month_is_a_clear_error(client, notices, month):
    sign_in(client, SpeakerFactory())
    page = client.get(reverse("speakers:earnings"), {"month": month})
    assert page.status_code == 400
    assert "Give a month between" in page.content.decode()
    assert client.get(reverse("speakers:statement-csv"), {"month": month}).status_code == 400
    assert client.get(reverse("speakers:statement-pdf"), {"month": month}).status_code == 400


@pytest.mark.parametrize(
    "envelope",
    [
        {"receipt": {}, "signature": {"alg": "EdDSA", "kid": [], "value": "x"}},
        {"receipt": {}, "signature": {"alg": "EdDSA", "kid": "k", "value": 1}},
        {"receipt": "x", "signature": {"alg": "EdDSA", "kid": "k", "value": "v"}},
        {"receipt": {}, "signature": "x"},
    ],
)
def test_a_malformed_receipt_is_a_clear_error_not_a_crash(client, envelope):
    response = client.post(reverse("speakers:verify"), {"receipt": json.dumps(envelope)})
    assert response.status_code == 400
    assert "signature (alg, kid and value)" in response.content.decode()


def test_the_export_includes_typed_name_signatures(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "biometric")  # the helper signs with a typed name
    response = sign_in(client, speaker).get(reverse("speakers:data-export"))
    document = json.loads(b"".join(response.streaming_content))
    assert document["events"][0]["signed_name"] == "Test Speaker"


def test_used_rate_plans_are_add_only_in_the_admin(admin_client):
    from compensation.models import RatePlan
    from compensation.services import publish_rate_plan
    from registry.services import register_campaign

    plan = publish_rate_plan(
        campaign=register_campaign(slug="c", name="C"), currency="EUR", amount_per_hour="10"
    )
    change = reverse("admin:compensation_rateplan_change", args=[plan.pk])
    admin_client.post(change, {"amount_per_hour": "99", "currency": "EUR"})
    plan.refresh_from_db()
    assert str(plan.amount_per_hour) == "10.0000"
    assert (
        admin_client.post(
            reverse("admin:compensation_rateplan_delete", args=[plan.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert RatePlan.objects.filter(pk=plan.pk).exists()
