"""Consent receipts: one per event, Kantara Consent Receipt 1.1 field names, signed
with Ed25519 over the RFC 8785 canonical JSON, and a PDF rendering for people."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consent.models import (
    ConsentAction,
    ConsentEvent,
    ConsentReceipt,
    ConsentState,
    EvidenceMethod,
    Purpose,
)
from registry import signing
from registry.pdf import (
    PdfFonts,
    local_date,
    local_timestamp,
    pdf_document_options,
    pdf_fonts,
    pdf_language,
)

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

# The words a person reads for each state and evidence method, in their language. The
# signed JSON keeps the source-language labels: its bytes must not depend on the reader.
STATE_LABEL: dict[str, Promise] = {
    ConsentState.REQUESTED: gettext_lazy("Asked, not answered"),
    ConsentState.GIVEN: gettext_lazy("Given"),
    ConsentState.RENEWED: gettext_lazy("Given (renewed)"),
    ConsentState.REFUSED: gettext_lazy("Refused"),
    ConsentState.WITHDRAWN: gettext_lazy("Withdrawn"),
    ConsentState.EXPIRED: gettext_lazy("Expired"),
}

EVIDENCE_METHOD_LABEL: dict[str, Promise] = {
    EvidenceMethod.WEB_FORM: gettext_lazy("Web form (one affirmative click)"),
    EvidenceMethod.WEB_FORM_SIGNED: gettext_lazy("Web form with typed-name signature (written)"),
    EvidenceMethod.SPOKEN_PHRASE: gettext_lazy("Recorded spoken consent phrase"),
    EvidenceMethod.SIGNED_PAPER: gettext_lazy("Scanned signed paper form (written)"),
    EvidenceMethod.SYSTEM: gettext_lazy("System (expiry by schedule)"),
    EvidenceMethod.REQUEST: gettext_lazy("Request by the collection platform"),
}


def evidence_method_label(method: str) -> str:
    """How the act was collected, in the active language."""
    label = EVIDENCE_METHOD_LABEL.get(method)
    return str(label) if label is not None else _(str(EvidenceMethod(method).label))


def _language_name(code: str) -> str:
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _validity(event: ConsentEvent) -> str:
    """What the act leaves in force, as the reader's language says it."""
    if event.action in (ConsentAction.GIVE, ConsentAction.RENEW):
        if event.expires_at:
            return _("until withdrawn, at the latest %(date)s") % {
                "date": local_date(event.expires_at)
            }
        return _("until withdrawn")
    if event.action in (ConsentAction.WITHDRAW, ConsentAction.EXPIRE):
        return _("ended on %(date)s") % {"date": local_date(event.occurred_at)}
    return _("not in effect")


def _scope(event: ConsentEvent) -> str:
    if event.session is not None:
        return _("one call (%(id)s)") % {"id": event.session.public_id}
    return _("all recordings")


def receipt_pdf(event: ConsentEvent) -> bytes:
    """A one-page PDF of the signed receipt, for the speaker's records, in the language
    of the notice they answered: every value is translated and every date written as
    that language writes it (the signed JSON values themselves stay as issued)."""
    language = pdf_language(event.notice_language)
    with translation.override(language):
        return _receipt_pdf(event, pdf_fonts(language))


def _receipt_pdf(event: ConsentEvent, fonts: PdfFonts) -> bytes:
    envelope = signed_receipt(event)
    receipt, signature = envelope["receipt"], envelope["signature"]
    own = receipt["registry"]
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=fonts.regular, fontSize=10)
    label = ParagraphStyle("label", parent=body, fontName=fonts.bold)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=fonts.bold)
    small = ParagraphStyle("small", parent=body, fontName=fonts.mono, fontSize=7, leading=9)
    purpose = str(Purpose(event.purpose).label)
    notice = _("%(title)s — version %(version)s, %(language)s") % {
        "title": event.notice.title,
        "version": own["noticeVersion"],
        "language": _language_name(event.notice_language),
    }
    controller = settings.CONSENT_CONTROLLER
    values = [
        (_("Purpose"), purpose),
        (_("Act"), str(ConsentAction(event.action).label)),
        (_("Status"), str(STATE_LABEL[ConsentState(event.state)])),
        (_("When"), local_timestamp(event.occurred_at)),
        (_("Scope"), _scope(event)),
        (_("Notice"), notice),
        # Requests written before they had their own method carry "system".
        (
            _("Collected by"),
            evidence_method_label(
                EvidenceMethod.REQUEST
                if event.action == ConsentAction.REQUEST
                else event.evidence_method
            ),
        ),
        (_("Jurisdiction"), receipt["jurisdiction"]),
        (_("Valid"), _validity(event)),
        (_("Your id"), receipt["piiPrincipalId"]),
        (_("Receipt id"), receipt["consentReceiptID"]),
        (_("Controller"), f"{controller['piiController']}, {controller['email']}"),
    ]
    rows = [
        [
            Paragraph(fonts.markup(name, font=fonts.bold), label),
            Paragraph(fonts.markup(value), body),
        ]
        for name, value in values
    ]
    table = Table(rows, colWidths=[42 * mm, 128 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    technical = [
        _("notice sha256: %(hash)s") % {"hash": own["noticeSha256"]},
        _("event #%(seq)s hash: %(hash)s") % {"seq": own["eventSeq"], "hash": own["eventHash"]},
        _("key id: %(kid)s") % {"kid": signature["kid"]},
        _("signature: %(value)s") % {"value": signature["value"]},
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        **pdf_document_options(
            title=_("Consent receipt %(id)s") % {"id": receipt["consentReceiptID"]},
            subject=f"{ACTION_HEADLINE[ConsentAction(event.action)]}: {purpose}",
            fonts=fonts,
        ),
    )
    document.build(
        [
            Paragraph(fonts.markup(_("Consent receipt"), font=fonts.bold), title),
            Paragraph(
                fonts.markup(
                    _("%(act)s: %(purpose)s.")
                    % {"act": ACTION_HEADLINE[ConsentAction(event.action)], "purpose": purpose}
                ),
                body,
            ),
            Spacer(1, 6 * mm),
            table,
            Spacer(1, 6 * mm),
            Paragraph(
                fonts.markup(
                    _(
                        "This receipt is signed (Ed25519 over RFC 8785 canonical JSON). Verify "
                        "the JSON version against the public keys at /.well-known/jwks.json."
                    )
                ),
                body,
            ),
            Spacer(1, 2 * mm),
            *(Paragraph(fonts.markup(line, font=fonts.mono), small) for line in technical),
        ]
    )
    return buffer.getvalue()
