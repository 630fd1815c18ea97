"""Fonts and language for the PDFs people read (receipts, statements, dataset cards)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

CID_FONT = "HeiseiKakuGo-W5"
EMBEDDED_CJK_FONT = "RegistryCJK"


def pdf_font(language: str) -> str:
    """Helvetica covers Latin scripts. For CJK text, embed (a subset of) the TrueType
    font at ``PDF_CJK_FONT_PATH`` so every viewer shows it; without one, fall back to
    Adobe's standard Japanese CID font, which viewers must supply themselves."""
    if language.split("-")[0] not in {"ja", "zh", "ko"}:
        return "Helvetica"
    registered = pdfmetrics.getRegisteredFontNames()
    path = settings.PDF_CJK_FONT_PATH
    if path and Path(path).is_file():
        if EMBEDDED_CJK_FONT not in registered:
            pdfmetrics.registerFont(TTFont(EMBEDDED_CJK_FONT, path))
        return EMBEDDED_CJK_FONT
    if CID_FONT not in registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return CID_FONT


def pdf_language(language: str) -> str:
    """The UI language a PDF for ``language`` is written in (English if we have none)."""
    base = language.split("-")[0]
    return base if base in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
