"""Consent receipts: one per event, Kantara Consent Receipt 1.1 field names, signed
with Ed25519 over the RFC 8785 canonical JSON, and a PDF rendering for people."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent.models import ConsentAction, ConsentEvent, ConsentReceipt, EvidenceMethod, Purpose
from registry import signing
from registry.pdf import pdf_font, pdf_language

RECEIPT_VERSION = "KI-CR-v1.1.0"

# What each purpose covers, in Kantara's vocabulary (purposeCategory, piiCategory).
PURPOSE_TERMS: dict[str, dict[str, Any]] = {
    Purpose.RECORDING: {
        "purposeCategory": ["Core Function"],
        "piiCategory": ["Voice recording"],
        "primaryPurpose": True,
        "thirdPartyDisclosure": False,
    },
    Purpose.TRAINING: {
        "purposeCategory": ["Research and development"],
        "piiCategory": ["Voice recording"],
        "primaryPurpose": False,
        "thirdPartyDisclosure": False,
    },
    Purpose.REDISTRIBUTION: {
        "purposeCategory": ["Licensing to third parties"],
        "piiCategory": ["Voice recording"],
        "primaryPurpose": False,
        "thirdPartyDisclosure": True,
        "thirdPartyName": "Licensees named in the registry's published dataset cards",
    },
    Purpose.BIOMETRIC: {
        "purposeCategory": ["Identification"],
        "piiCategory": ["Voiceprint (biometric identifier)"],
        "primaryPurpose": False,
        "thirdPartyDisclosure": False,
    },
    Purpose.LIKENESS: {
        "purposeCategory": ["Synthetic voice generation"],
        "piiCategory": ["Voice recording", "Voice likeness"],
        "primaryPurpose": False,
        "thirdPartyDisclosure": False,
    },
}


def build_receipt(event: ConsentEvent) -> dict[str, Any]:
    """The receipt body (unsigned). Names no one: the principal is the public UUID.
    Always in the source language, whatever language the request is served in: the
    signed document must not depend on who asked first."""
    with translation.override(None):
        return _build_receipt(event)


def _build_receipt(event: ConsentEvent) -> dict[str, Any]:
    notice = event.notice
    explicit = event.evidence_method in (
        EvidenceMethod.WEB_FORM_SIGNED,
        EvidenceMethod.SIGNED_PAPER,
        EvidenceMethod.SPOKEN_PHRASE,
    )
    biometric = event.purpose == Purpose.BIOMETRIC
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": event.jurisdiction,
        "consentTimestamp": int(event.occurred_at.timestamp()),
        "collectionMethod": str(EvidenceMethod(event.evidence_method).label),
        "consentReceiptID": str(event.public_id),
        "publicKey": signing.current_public_jwk(),
        "language": event.notice_language,
        "piiPrincipalId": str(event.speaker.public_id),
        "piiControllers": [settings.CONSENT_CONTROLLER],
        "policyUrl": settings.CONSENT_POLICY_URL,
        "services": [
            {
                "service": "Two-channel conversational voice corpus",
                "purposes": [
                    {
                        "purpose": str(Purpose(event.purpose).label),
                        "consentType": "EXPLICIT" if explicit else "EXPRESSED",
                        "termination": (
                            f"until withdrawn or {event.expires_at.date().isoformat()}"
                            if event.expires_at
                            else "until withdrawn"
                        ),
                        **PURPOSE_TERMS[event.purpose],
                    }
                ],
            }
        ],
        "sensitive": biometric,
        "spiCat": ["Biometric data (voiceprint)"] if biometric else [],
        # Our own fields: exactly which act, under which text, where in the chain.
        "registry": {
            "purpose": event.purpose,
            "action": event.action,
            "state": event.state,
            "scope": str(event.session.public_id) if event.session else "all recordings",
            "noticeId": str(notice.public_id),
            "noticeVersion": notice.version,
            "noticeSha256": event.notice_sha256,
            "evidenceSha256": event.evidence_sha256 or None,
            "recordedAt": event.recorded_at.isoformat(),
            "expiresAt": event.expires_at.isoformat() if event.expires_at else None,
            "eventSeq": event.seq,
            "eventHash": event.hash,
        },
    }


def issue_receipt(event: ConsentEvent) -> ConsentReceipt:
    """Sign and store the receipt of an event just appended (it has none yet)."""
    receipt = build_receipt(event)
    return ConsentReceipt.objects.create(
        event=event, document=receipt, signature=signing.sign(receipt)
    )


def signed_receipt(event: ConsentEvent) -> dict[str, Any]:
    """``{"receipt": …, "signature": {"alg": "EdDSA", "kid": …, "value": …}}``, exactly as
    first issued: the stored copy when there is one, else issued and stored now (events
    bulk-loaded without one get theirs on first request)."""
    stored = ConsentReceipt.objects.filter(event=event).first()
    if stored is None:
        receipt = build_receipt(event)
        stored, _ = ConsentReceipt.objects.get_or_create(
            event=event, defaults={"document": receipt, "signature": signing.sign(receipt)}
        )
    return {"receipt": stored.document, "signature": stored.signature}


def verify_receipt(envelope: dict[str, Any]) -> bool:
    """True when the envelope's signature matches its receipt under a published key."""
    receipt, signature = envelope.get("receipt"), envelope.get("signature")
    if not isinstance(receipt, dict) or not isinstance(signature, dict):
        return False
    return signing.verify(receipt, signature)


ACTION_HEADLINE = {
    ConsentAction.REQUEST: gettext_lazy("You were asked for consent"),
    ConsentAction.GIVE: gettext_lazy("You gave consent"),
    ConsentAction.RENEW: gettext_lazy("You renewed consent"),
    ConsentAction.WITHDRAW: gettext_lazy("You withdrew consent"),
    ConsentAction.REFUSE: gettext_lazy("You refused consent"),
    ConsentAction.EXPIRE: gettext_lazy("Your consent expired"),
}


def receipt_pdf(event: ConsentEvent) -> bytes:
    """A one-page PDF of the signed receipt, for the speaker's records, in the language
    of the notice they answered (the signed JSON values themselves stay as issued)."""
    with translation.override(pdf_language(event.notice_language)):
        return _receipt_pdf(event)


def _receipt_pdf(event: ConsentEvent) -> bytes:
    envelope = signed_receipt(event)
    receipt, signature = envelope["receipt"], envelope["signature"]
    own = receipt["registry"]
    font = pdf_font(event.notice_language)
    bold = font if font != "Helvetica" else "Helvetica-Bold"
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=10)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=bold)
    small = ParagraphStyle("small", parent=body, fontName="Courier", fontSize=7, leading=9)

    rows = [
        [_("Purpose"), str(Purpose(event.purpose).label)],
        [_("Act"), f"{ConsentAction(event.action).label} ({own['state']})"],
        [_("When"), event.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC")],
        [_("Scope"), own["scope"]],
        [
            _("Notice"),
            Paragraph(
                f"{escape(event.notice.title)} — "
                + _("version %(version)s, language %(language)s")
                % {"version": own["noticeVersion"], "language": event.notice_language},
                body,
            ),
        ],
        [_("Collected by"), receipt["collectionMethod"]],
        [_("Jurisdiction"), receipt["jurisdiction"]],
        [_("Valid"), receipt["services"][0]["purposes"][0]["termination"]],
        [_("Your id"), receipt["piiPrincipalId"]],
        [_("Receipt id"), receipt["consentReceiptID"]],
        [
            _("Controller"),
            Paragraph(
                escape(
                    f"{settings.CONSENT_CONTROLLER['piiController']}, "
                    f"{settings.CONSENT_CONTROLLER['email']}"
                ),
                body,
            ),
        ],
    ]
    table = Table(rows, colWidths=[35 * mm, 135 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), bold),
                ("FONTNAME", (1, 0), (1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"Consent receipt {receipt['consentReceiptID']}",
        author=settings.CONSENT_CONTROLLER["piiController"],
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    document.build(
        [
            Paragraph(_("Consent receipt"), title),
            Paragraph(
                f"{ACTION_HEADLINE[ConsentAction(event.action)]}: {Purpose(event.purpose).label}.",
                body,
            ),
            Spacer(1, 6 * mm),
            table,
            Spacer(1, 6 * mm),
            Paragraph(
                _(
                    "This receipt is signed (Ed25519 over RFC 8785 canonical JSON). Verify the "
                    "JSON version against the public keys at /.well-known/jwks.json."
                ),
                body,
            ),
            Spacer(1, 2 * mm),
            Paragraph(f"notice sha256: {own['noticeSha256']}", small),
            Paragraph(f"event #{own['eventSeq']} hash: {own['eventHash']}", small),
            Paragraph(f"key id: {signature['kid']}", small),
            Paragraph(f"signature: {signature['value']}", small),
        ]
    )
    return buffer.getvalue()
