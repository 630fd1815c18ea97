"""The admin's own forms (notice publishing, the compliance report, the contact reveal,
the authenticator enrolment) refuse a field they do not have, as the portal's do: the
page comes back saying what is wrong and nothing is published, generated, revealed or
enrolled. (The model admin pages are Django's own and are not covered here.)"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent.models import ConsentNotice
from registry.models import AccessLogEntry
from tests.admin_login import verified_login
from tests.consent.conftest import notices  # noqa: F401 - fixture
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

UNKNOWN = "This form was sent with a field it does not have"


def officer(client: Client) -> Client:
    user = User.objects.create_user("compliance-officer", is_staff=True)
    user.groups.add(Group.objects.get(name="Compliance officer"))
    verified_login(client, User.objects.get(pk=user.pk))
    return client


def says(response: Any, name: str) -> None:
    html = response.content.decode()
    assert UNKNOWN in html, html[:3000]
    assert f"“{name}”" in html


@pytest.mark.usefixtures("notices")
def test_publishing_a_notice_with_a_field_the_form_does_not_have_publishes_nothing(
    client: Client,
) -> None:
    text = {
        "purpose": "training",
        "jurisdiction": "US",
        "language": "en",
        "title": "Training consent, second edition",
        "body": "We now also train on the silences between turns.",
        "allows": "Use of your voice for training our models.",
        "does_not_allow": "Selling or licensing your voice to anyone else.",
        "retention_schedule": "",
    }
    answer = officer(client).post(
        reverse("admin:consent_consentnotice_publish"),
        {**text, "expected_version": "2", "_publish": "1", "status": "retired"},
    )
    says(answer, "status")
    assert not ConsentNotice.objects.filter(purpose="training", version=2).exists()


def test_a_compliance_report_with_a_field_the_form_does_not_have_is_not_generated(
    client: Client,
) -> None:
    today = timezone.now().date()
    answer = officer(client).post(
        reverse("admin:compliance_report"),
        {
            "start": (today - datetime.timedelta(days=7)).isoformat(),
            "end": today.isoformat(),
            "speaker": "all",
        },
    )
    assert answer["Content-Type"].startswith("text/html")
    says(answer, "speaker")
    assert not AccessLogEntry.objects.exists()


def test_a_contact_reveal_with_a_field_the_form_does_not_have_reveals_and_logs_nothing(
    client: Client,
) -> None:
    speaker = SpeakerFactory()
    answer = officer(client).post(
        reverse("admin:registry_speaker_change", args=[speaker.pk]),
        {"reason": "Court order 2026/114: identify the data subject", "fields": "all"},
    )
    assert answer.status_code == 400
    says(answer, "fields")
    assert speaker.email not in answer.content.decode()
    assert not AccessLogEntry.objects.exists()


def test_an_enrolment_with_a_field_the_form_does_not_have_enrols_nothing(client: Client) -> None:
    user = User.objects.create_user("new-officer", password="a long passphrase 9", is_staff=True)
    client.force_login(user)
    url = reverse("admin:two_factor_enrol")
    assert client.get(url).status_code == 200
    answer = client.post(url, {"otp_token": "000000", "device": "another"})
    assert answer.status_code == 400
    says(answer, "device")
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
