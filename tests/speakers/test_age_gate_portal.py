"""The age gate in the speaker portal: a speaker whose stored age evidence shows them
below the minimum (or contradicts itself) cannot give consent there either."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from consent.models import Consent, ConsentEvent, Purpose
from consent.selectors import current_notice
from registry.models import Speaker
from tests.factories import SpeakerFactory
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime.now(datetime.UTC).date()


def a_minor() -> Speaker:
    # A row written before this gate: an adult attestation beside a 16-year-old's date.
    speaker = SpeakerFactory(
        date_of_birth=datetime.date(1990, 1, 1),
        age_verification_method="platform_attestation",
        age_attested_minimum=18,
    )
    Speaker.objects.filter(pk=speaker.pk).update(
        date_of_birth=TODAY.replace(year=TODAY.year - 16, day=min(TODAY.day, 28))
    )
    speaker.refresh_from_db()
    return speaker


def test_a_minor_cannot_give_consent_in_the_portal(client, notices):
    speaker = a_minor()
    notice = current_notice(speaker=speaker, purpose=Purpose.TRAINING)
    response = sign_in(client, speaker).post(
        reverse("speakers:give", args=[Purpose.TRAINING]),
        {"notice": str(notice.public_id)},
    )
    assert response.status_code == 400
    assert not Consent.objects.filter(speaker=speaker).exists()
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_the_portal_says_why_a_minor_cannot_give_consent(client, notices):
    speaker = a_minor()
    notice = current_notice(speaker=speaker, purpose=Purpose.TRAINING)
    response = sign_in(client, speaker).post(
        reverse("speakers:give", args=[Purpose.TRAINING]),
        {"notice": str(notice.public_id)},
    )
    assert "below the minimum age" in response.content.decode()
