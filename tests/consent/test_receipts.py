"""Signed consent receipts (Kantara CR 1.1 names, RFC 8785, Ed25519), the JWKS that
verifies them, the verify_receipt command and the PDF rendering."""

from __future__ import annotations

import base64
import copy
import json
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import CommandError, call_command

from consent.models import Purpose
from consent.receipts import build_receipt, receipt_pdf, signed_receipt, verify_receipt
from registry import signing
from tests.consent.conftest import give, withdraw
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

KANTARA_FIELDS = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "publicKey",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}


@pytest.fixture
def event(notices):
    speaker = SpeakerFactory(jurisdiction="US-IL")
    return give(speaker, Purpose.BIOMETRIC).last_event


def test_receipt_carries_the_kantara_fields_and_ours(event) -> None:
    receipt = build_receipt(event)
    assert set(receipt) >= KANTARA_FIELDS
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == str(event.public_id)
    assert receipt["piiPrincipalId"] == str(event.speaker.public_id)
    assert receipt["sensitive"] is True
    assert receipt["spiCat"] == ["Biometric data (voiceprint)"]
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["termination"].startswith("until withdrawn or ")
    assert receipt["registry"]["noticeSha256"] == event.notice.text_sha256
    assert receipt["registry"]["eventHash"] == event.hash


def test_receipt_contains_no_personal_data(event) -> None:
    text = json.dumps(build_receipt(event), ensure_ascii=False)
    assert event.speaker.name not in text
    assert event.speaker.email not in text


def test_a_signed_receipt_verifies(event) -> None:
    assert verify_receipt(signed_receipt(event)) is True


def test_changing_any_byte_breaks_the_signature(event) -> None:
    envelope = signed_receipt(event)
    tampered = copy.deepcopy(envelope)
    tampered["receipt"]["registry"]["purpose"] = "training"
    assert verify_receipt(tampered) is False
    flipped = copy.deepcopy(envelope)
    raw = bytearray(base64.urlsafe_b64decode(flipped["signature"]["value"] + "=="))
    raw[0] ^= 1
    flipped["signature"]["value"] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert verify_receipt(flipped) is False


def test_a_receipt_from_an_unknown_key_does_not_verify(event, settings) -> None:
    envelope = signed_receipt(event)
    settings.SIGNING_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    assert verify_receipt(envelope) is False


def test_old_receipts_verify_after_a_key_rotation_with_the_old_key_published(
    event, settings
) -> None:
    envelope = signed_receipt(event)
    old_public = signing.jwks()["keys"][0]["x"]
    settings.SIGNING_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    settings.SIGNING_RETIRED_PUBLIC_KEYS = [old_public]
    assert verify_receipt(envelope) is True
    assert len(signing.jwks()["keys"]) == 2


def test_jwks_endpoint_publishes_the_verifying_key(client, event) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    envelope = signed_receipt(event)
    assert key["kid"] == envelope["signature"]["kid"]
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key["x"] + "="))
    # A third party can verify with nothing but the JWKS and RFC 8785.
    public.verify(
        base64.urlsafe_b64decode(envelope["signature"]["value"] + "=="),
        signing.canonical(envelope["receipt"]),
    )


def test_verify_receipt_command_accepts_a_good_receipt(event, tmp_path, capsys) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(signed_receipt(event)))
    call_command("verify_receipt", str(path))
    assert f"receipt {event.public_id} verified" in capsys.readouterr().out


def test_verify_receipt_command_rejects_a_changed_receipt(event, tmp_path) -> None:
    envelope = signed_receipt(event)
    envelope["receipt"]["jurisdiction"] = "US-CA"
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(envelope))
    with pytest.raises(CommandError, match="INVALID"):
        call_command("verify_receipt", str(path))


def test_verify_receipt_command_rejects_a_file_that_is_not_json(tmp_path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text("not json")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("verify_receipt", str(path))


def test_pdf_receipt_renders_for_a_withdrawal_in_japanese(notices) -> None:
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    give(speaker, Purpose.TRAINING)
    event = withdraw(speaker, Purpose.TRAINING).last_event
    pdf = receipt_pdf(event)
    assert pdf.startswith(b"%PDF-")
    assert b"HeiseiKakuGo-W5" not in pdf  # never a CID font the viewer must supply
    assert b"FontFile2" in pdf
    assert len(pdf) > 2000


IPA_GOTHIC = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")


@pytest.mark.skipif(not IPA_GOTHIC.is_file(), reason="fonts-ipafont-gothic is not installed")
def test_pdf_receipt_embeds_a_japanese_font_when_one_is_configured(notices, settings) -> None:
    settings.PDF_CJK_FONT_PATH = str(IPA_GOTHIC)
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    event = give(speaker, Purpose.TRAINING).last_event
    pdf = receipt_pdf(event)
    assert b"FontFile2" in pdf  # a TrueType font program travels inside the PDF
    assert b"HeiseiKakuGo-W5" not in pdf


def test_signed_names_are_encrypted_and_rotated_with_the_pii_keys(event, settings) -> None:
    from cryptography.fernet import Fernet
    from django.db import connection

    from consent.models import ConsentSignature
    from registry.key_rotation import rotate_pii_keys

    def raw() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT signed_name FROM consent_consentsignature WHERE event_id = %s",
                [event.pk],
            )
            return cursor.fetchone()[0]

    assert raw().startswith("gAAAAA")
    new_key = Fernet.generate_key().decode()
    settings.PII_ENCRYPTION_KEYS = [new_key, *settings.PII_ENCRYPTION_KEYS]
    rotate_pii_keys()
    Fernet(new_key).decrypt(raw().encode())
    assert ConsentSignature.objects.get(event=event).signed_name == "Test Speaker"


def test_the_signed_receipt_does_not_depend_on_the_language_it_is_first_served_in(notices):
    from django.utils import translation

    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    event = give(speaker, Purpose.TRAINING).last_event
    with translation.override("ja"):
        in_japanese = build_receipt(event)
    assert in_japanese == build_receipt(event)
    assert in_japanese["services"][0]["purposes"][0]["purpose"] == "In-house model training"


@pytest.mark.skipif(not IPA_GOTHIC.is_file(), reason="fonts-ipafont-gothic is not installed")
def test_the_pdf_receipt_speaks_the_language_of_the_notice(notices, settings) -> None:
    import io

    from pypdf import PdfReader

    settings.PDF_CJK_FONT_PATH = str(IPA_GOTHIC)
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    event = give(speaker, Purpose.TRAINING).last_event
    text = PdfReader(io.BytesIO(receipt_pdf(event))).pages[0].extract_text()
    assert "同意レシート" in text
    assert "同意しました" in text
    english = SpeakerFactory()
    page = PdfReader(io.BytesIO(receipt_pdf(give(english, "training").last_event))).pages[0]
    assert "You gave consent" in page.extract_text()
