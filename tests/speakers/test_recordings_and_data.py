"""My recordings (others only as "participant N", usability per purpose, withdrawal
status), the data export, and erasure requests."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import (
    VALID_STATES,
    Consent,
    ConsentOutbox,
    ErasureRequest,
    OutboxKind,
)
from tests.factories import RecordingFactory, SpeakerFactory
from tests.speakers.conftest import give, sign_in, withdraw

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(notices):
    me = SpeakerFactory(name="Maria Hernández", email="maria@example.org")
    partner = SpeakerFactory(name="James O'Connor", email="james@example.org")
    for speaker in (me, partner):
        give(speaker, "recording")
        give(speaker, "training")
    give(me, "redistribution")
    recording = RecordingFactory(speakers=[me, partner], recorded_at=timezone.now())
    return me, partner, recording


def test_recordings_show_usability_per_purpose_and_hide_the_other_participant(client, call):
    me, partner, recording = call
    html = sign_in(client, me).get(reverse("speakers:recordings")).content.decode()
    assert "you (participant 1), participant 2" in html
    assert "James" not in html
    assert str(partner.public_id) not in html
    row = html.split(str(recording.recorded_at.date()))[1].split("</tr>")[0]
    # recording and training: everyone consented; redistribution: the partner did not.
    assert row.count(">usable<") == 2
    assert row.count(">not usable<") == 3


def test_one_recording_explains_whose_consent_is_missing_without_naming_them(client, call):
    me, _partner, recording = call
    html = (
        sign_in(client, me)
        .get(reverse("speakers:recording", args=[recording.public_id]))
        .content.decode()
    )
    redistribution = html.split("Licensing to other developers")[1].split("</tr>")[0]
    assert "not usable" in redistribution
    assert "covers it" in redistribution


def test_a_speaker_cannot_open_a_recording_they_are_not_in(client, call):
    _me, _partner, recording = call
    stranger = SpeakerFactory()
    sign_in(client, stranger)
    assert client.get(reverse("speakers:recording", args=[recording.public_id])).status_code == 404


def test_withdrawing_makes_the_recording_unusable_and_shows_propagation_status(client, call):
    me, _partner, _recording = call
    withdraw(me, "training")
    html = sign_in(client, me).get(reverse("speakers:recordings")).content.decode()
    assert html.count(">usable<") == 1
    assert "recorded; waiting for propagation" in html


def test_the_export_holds_my_data_and_none_of_the_other_participant(client, call):
    me, partner, recording = call
    response = sign_in(client, me).get(reverse("speakers:data-export"))
    assert response["Content-Disposition"].startswith("attachment")
    document = json.loads(b"".join(response.streaming_content))
    assert document["profile"]["name"] == "Maria Hernández"
    assert document["profile"]["email"] == "maria@example.org"
    assert {e["purpose"] for e in document["events"]} == {"recording", "training", "redistribution"}
    assert all(e["receipt"]["signature"]["kid"] for e in document["events"])
    assert document["recordings"][0]["id"] == str(recording.public_id)
    text = json.dumps(document)
    assert "James" not in text
    assert str(partner.public_id) not in text


def test_requesting_erasure_withdraws_everything_and_queues_propagation(client, call):
    me, _partner, _recording = call
    sign_in(client, me)
    refused = client.post(reverse("speakers:erasure"), {})
    assert refused.status_code == 400
    assert not ErasureRequest.objects.exists()
    response = client.post(reverse("speakers:erasure"), {"understood": "on"})
    assert response.status_code == 302
    request = ErasureRequest.objects.get(speaker=me)
    assert not Consent.objects.filter(speaker=me, state__in=VALID_STATES).exists()
    assert ConsentOutbox.objects.filter(erasure_request=request, kind=OutboxKind.ERASURE).exists()
    withdrawals = ConsentOutbox.objects.filter(event__speaker=me, kind=OutboxKind.WITHDRAWAL)
    assert withdrawals.count() == 3
    page = client.get(reverse("speakers:data")).content.decode()
    assert "Erasure requested on" in page
    assert "reached 0 of" in page  # the plan exists; nothing delivered yet (no worker here)
    # Asking again returns the open request instead of filing a second one.
    client.post(reverse("speakers:erasure"), {"understood": "on"})
    assert ErasureRequest.objects.count() == 1


def test_erasure_of_a_speaker_with_no_consents_still_files_a_request(client, notices):
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    client.post(reverse("speakers:erasure"), {"understood": "on"})
    assert ErasureRequest.objects.filter(speaker=speaker).count() == 1
    assert not ConsentOutbox.objects.filter(kind=OutboxKind.WITHDRAWAL).exists()
