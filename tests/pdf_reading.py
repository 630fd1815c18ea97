"""Reading the PDFs the registry renders, for tests: their text (white space folded, as
pypdf breaks lines where the PDF wraps them and Japanese wraps without a space), the
fonts they embed, and a catalog's wording to look for."""

from __future__ import annotations

import io
import re
from typing import Any

from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader


def translated(language: str, message: str, **values: object) -> str:
    """``message`` as the catalog of ``language`` has it; the catalog must translate it."""
    with translation.override(language):
        text = gettext(message)
    if language != "en":
        assert text != message, f"no {language} translation for {message!r}"
    return text % values if values else text


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    return squeeze("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def assert_shows(pdf: bytes, *values: str) -> None:
    text = pdf_text(pdf)
    for value in values:
        assert squeeze(value) in text, value


def assert_does_not_show(pdf: bytes, *values: str) -> None:
    text = pdf_text(pdf)
    for value in values:
        assert squeeze(value) not in text, value


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont of every font a page uses -> whether its TrueType program is embedded."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            embedded = descriptor is not None and "/FontFile2" in descriptor.get_object()
            fonts[str(font["/BaseFont"])] = embedded
    return fonts
