"""Consent receipts: one per event, Kantara Consent Receipt 1.1 field names, signed
with Ed25519 over the RFC 8785 canonical JSON, and a PDF rendering for people."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent.models import ConsentAction, ConsentEvent, ConsentReceipt, EvidenceMethod, Purpose
from registry import signing

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
    """The receipt body (unsigned). Names no one: the principal is the public UUID."""
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
        "collectionMethod": EvidenceMethod(event.evidence_method).label,
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
                        "purpose": Purpose(event.purpose).label,
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


_CID_FONT = "HeiseiKakuGo-W5"
_EMBEDDED_CJK_FONT = "RegistryCJK"


def _font_for(language: str) -> str:
    """Helvetica covers Latin scripts. For CJK text, embed (a subset of) the TrueType
    font at ``PDF_CJK_FONT_PATH`` so every viewer shows it; without one, fall back to
    Adobe's standard Japanese CID font, which viewers must supply themselves."""
    if language.split("-")[0] not in {"ja", "zh", "ko"}:
        return "Helvetica"
    registered = pdfmetrics.getRegisteredFontNames()
    path = settings.PDF_CJK_FONT_PATH
    if path and Path(path).is_file():
        if _EMBEDDED_CJK_FONT not in registered:
            pdfmetrics.registerFont(TTFont(_EMBEDDED_CJK_FONT, path))
        return _EMBEDDED_CJK_FONT
    if _CID_FONT not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(_CID_FONT))
    return _CID_FONT


ACTION_HEADLINE = {
    ConsentAction.GIVE: "You gave consent",
    ConsentAction.RENEW: "You renewed consent",
    ConsentAction.WITHDRAW: "You withdrew consent",
    ConsentAction.REFUSE: "You refused consent",
    ConsentAction.EXPIRE: "Your consent expired",
}


def receipt_pdf(event: ConsentEvent) -> bytes:
    """A one-page PDF of the signed receipt, for the speaker's records."""
    envelope = signed_receipt(event)
    receipt, signature = envelope["receipt"], envelope["signature"]
    own = receipt["registry"]
    font = _font_for(event.notice_language)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=10)
    title = ParagraphStyle("title", parent=styles["Title"], fontName="Helvetica-Bold")
    small = ParagraphStyle("small", parent=body, fontName="Courier", fontSize=7, leading=9)

    rows = [
        ["Purpose", Purpose(event.purpose).label],
        ["Act", f"{ConsentAction(event.action).label} ({own['state']})"],
        ["When", event.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC")],
        ["Scope", own["scope"]],
        [
            "Notice",
            Paragraph(
                f"{event.notice.title} — version {own['noticeVersion']}, "
                f"language {event.notice_language}",
                body,
            ),
        ],
        ["Collected by", receipt["collectionMethod"]],
        ["Jurisdiction", receipt["jurisdiction"]],
        ["Valid", receipt["services"][0]["purposes"][0]["termination"]],
        ["Your id", receipt["piiPrincipalId"]],
        ["Receipt id", receipt["consentReceiptID"]],
        [
            "Controller",
            Paragraph(
                f"{settings.CONSENT_CONTROLLER['piiController']}, "
                f"{settings.CONSENT_CONTROLLER['email']}",
                body,
            ),
        ],
    ]
    table = Table(rows, colWidths=[35 * mm, 135 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"),
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
            Paragraph("Consent receipt", title),
            Paragraph(
                f"{ACTION_HEADLINE[ConsentAction(event.action)]}: "
                f"{Purpose(event.purpose).label.lower()}.",
                body,
            ),
            Spacer(1, 6 * mm),
            table,
            Spacer(1, 6 * mm),
            Paragraph(
                "This receipt is signed (Ed25519 over RFC 8785 canonical JSON). Verify the "
                "JSON version against the public keys at /.well-known/jwks.json.",
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
