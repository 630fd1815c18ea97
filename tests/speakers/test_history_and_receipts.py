"""History lists every event; each receipt downloads as signed JSON and as PDF, only by
its own speaker; the public page verifies a receipt and rejects a changed one."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from pypdf import PdfReader

from consent.models import ConsentEvent
from consent.receipts import verify_receipt
from tests.factories import SpeakerFactory
from tests.speakers.conftest import give, sign_in, withdraw

pytestmark = pytest.mark.django_db


def test_history_lists_every_event_with_notice_version_and_language(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    withdraw(speaker, "training")
    html = sign_in(client, speaker).get(reverse("speakers:history")).content.decode()
    assert html.count("<tr>") == 1 + 2  # header + two events
    assert "Gave" in html
    assert "Withdrew" in html
    assert "v1 (en)" in html


def test_a_receipt_downloads_as_signed_json_that_verifies(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    event = ConsentEvent.objects.get()
    response = sign_in(client, speaker).get(
        reverse("speakers:receipt-json", args=[event.public_id])
    )
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    envelope = json.loads(response.content)
    assert verify_receipt(envelope)
    assert envelope["receipt"]["piiPrincipalId"] == str(speaker.public_id)


def test_a_receipt_downloads_as_a_pdf(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    event = ConsentEvent.objects.get()
    response = sign_in(client, speaker).get(reverse("speakers:receipt-pdf", args=[event.public_id]))
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Consent receipt" in text
    assert str(speaker.public_id) in text


def test_a_speaker_cannot_open_another_speakers_receipt(client, notices):
    owner, other = SpeakerFactory(), SpeakerFactory()
    give(owner, "training")
    event = ConsentEvent.objects.get()
    sign_in(client, other)
    assert client.get(reverse("speakers:receipt-json", args=[event.public_id])).status_code == 404
    assert client.get(reverse("speakers:receipt-pdf", args=[event.public_id])).status_code == 404


def test_receipts_need_a_signed_in_speaker(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    event = ConsentEvent.objects.get()
    response = client.get(reverse("speakers:receipt-json", args=[event.public_id]))
    assert response.status_code == 302
    assert reverse("speakers:sign-in") in response["Location"]


def test_the_verification_page_accepts_a_genuine_receipt_and_rejects_a_changed_one(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    event = ConsentEvent.objects.get()
    envelope = json.loads(
        sign_in(client, speaker)
        .get(reverse("speakers:receipt-json", args=[event.public_id]))
        .content
    )
    public = client.__class__()
    page = public.get(reverse("speakers:verify")).content.decode()
    assert "RFC 8785" in page
    assert "/.well-known/jwks.json" in page
    valid = public.post(reverse("speakers:verify"), {"receipt": json.dumps(envelope)})
    assert "Valid:" in valid.content.decode()
    envelope["receipt"]["consentTimestamp"] += 1
    forged = public.post(reverse("speakers:verify"), {"receipt": json.dumps(envelope)})
    assert "Not valid" in forged.content.decode()


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"receipt": {}}', "x" * 100_001])
def test_the_verification_page_explains_bad_input(client, body):
    response = client.post(reverse("speakers:verify"), {"receipt": body})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
