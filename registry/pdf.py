"""Fonts, language and metadata for the PDFs people read: consent receipts, earnings
statements, the compliance report (and the CJK font of dataset cards).

Every font is TrueType and travels inside the PDF as a subset, so a receipt reads the
same in every viewer, years later, with no font installed. Latin-script documents are
set in DejaVu Sans (Latin, Greek and Cyrillic: any EU language, umlauts, accents,
guillemets); Japanese ones in IPAGothic, which carries Latin glyphs of its own, so a
UUID or "Ed25519" inside Japanese text keeps its letter spacing. Text we did not write
(a notice title, a licensee's name) may hold characters the document's font lacks:
``PdfFonts.markup`` sets those in the other font. A missing font file is an error that
names the Debian package to install, never a fallback that prints empty boxes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import formats
from django.utils.html import escape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

EMBEDDED_CJK_FONT = "RegistryCJK"
LATIN_FONT = "RegistryLatin"
LATIN_BOLD_FONT = "RegistryLatin-Bold"
MONO_FONT = "RegistryMono"
# IPAGothic covers Japanese (and the kanji Chinese shares), not Hangul: a language set
# in another script needs its own font here before it joins settings.LANGUAGES.
CJK_LANGUAGES = frozenset({"ja"})


class PdfFontMissing(ImproperlyConfigured):
    """A font every PDF embeds is not on this machine."""


@dataclass(frozen=True)
class _FontFile:
    name: str
    path: Path
    package: str
    setting: str


def _font_files() -> dict[str, _FontFile]:
    latin = Path(settings.PDF_LATIN_FONT_DIR)
    return {
        EMBEDDED_CJK_FONT: _FontFile(
            EMBEDDED_CJK_FONT,
            Path(settings.PDF_CJK_FONT_PATH),
            "fonts-ipafont-gothic",
            "PDF_CJK_FONT_PATH",
        ),
        LATIN_FONT: _FontFile(
            LATIN_FONT, latin / "DejaVuSans.ttf", "fonts-dejavu-core", "PDF_LATIN_FONT_DIR"
        ),
        LATIN_BOLD_FONT: _FontFile(
            LATIN_BOLD_FONT,
            latin / "DejaVuSans-Bold.ttf",
            "fonts-dejavu-core",
            "PDF_LATIN_FONT_DIR",
        ),
        MONO_FONT: _FontFile(
            MONO_FONT, latin / "DejaVuSansMono.ttf", "fonts-dejavu-core", "PDF_LATIN_FONT_DIR"
        ),
    }


# Which file each registered name was loaded from: a changed setting reloads it.
_loaded: dict[str, Path] = {}


def _register(name: str) -> str:
    font = _font_files()[name]
    if not font.path.is_file():
        raise PdfFontMissing(
            f"The PDF font {font.path} is missing: install the Debian package "
            f"{font.package} (apt-get install {font.package}) or point {font.setting} "
            "at the font. PDFs are never rendered without their fonts."
        )
    if _loaded.get(name) != font.path:
        pdfmetrics.registerFont(TTFont(name, str(font.path)))
        _loaded[name] = font.path
    return name


@checks.register(checks.Tags.compatibility, deploy=True)
def check_pdf_fonts(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """``check --deploy`` fails on a machine that could not render receipts."""
    problems: list[checks.CheckMessage] = []
    for name in _font_files():
        try:
            _register(name)
        except PdfFontMissing as error:
            problems.append(checks.Error(str(error), id="registry.E001"))
    return problems


def _covers(font: str, character: str) -> bool:
    face: Any = pdfmetrics.getFont(font).face
    return ord(character) in face.charToGlyph or character in "\n\t"


@dataclass(frozen=True)
class PdfFonts:
    """The fonts of one document: ``regular`` and ``bold`` for its language, ``mono``
    for hashes and signatures, ``fallback`` for characters the regular font lacks."""

    language: str
    regular: str
    bold: str
    mono: str
    fallback: str

    def markup(self, text: object, *, font: str | None = None) -> str:
        """``text`` escaped for a reportlab Paragraph set in ``font`` (default: the
        regular one), with every run of characters that font has no glyph for set in the
        first of the regular and fallback fonts that has them."""
        font = font or self.regular
        parts: list[str] = []
        run: list[str] = []
        run_font = font
        for character in str(text):
            face = next(
                (f for f in (font, self.regular, self.fallback) if _covers(f, character)), font
            )
            if run and face != run_font:
                parts.append(self._run("".join(run), run_font, font))
                run = []
            run.append(character)
            run_font = face
        if run:
            parts.append(self._run("".join(run), run_font, font))
        return "".join(parts)

    @staticmethod
    def _run(text: str, face: str, font: str) -> str:
        escaped = str(escape(text))
        return escaped if face == font else f'<font face="{face}">{escaped}</font>'


def pdf_fonts(language: str) -> PdfFonts:
    """The embedded fonts for a document written in ``language``; raises
    ``PdfFontMissing`` (naming the Debian package) when a font file is not installed."""
    for name in _font_files():
        _register(name)
    # <b> inside a Paragraph picks the family's bold face. IPAGothic has no bold: its
    # headings stand out by size.
    pdfmetrics.registerFontFamily(
        LATIN_FONT, normal=LATIN_FONT, bold=LATIN_BOLD_FONT, italic=LATIN_FONT,
        boldItalic=LATIN_BOLD_FONT,
    )  # fmt: skip
    pdfmetrics.registerFontFamily(
        EMBEDDED_CJK_FONT, normal=EMBEDDED_CJK_FONT, bold=EMBEDDED_CJK_FONT,
        italic=EMBEDDED_CJK_FONT, boldItalic=EMBEDDED_CJK_FONT,
    )  # fmt: skip
    if language.split("-")[0] in CJK_LANGUAGES:
        return PdfFonts(
            language=language,
            regular=EMBEDDED_CJK_FONT,
            bold=EMBEDDED_CJK_FONT,
            mono=MONO_FONT,
            fallback=LATIN_FONT,
        )
    return PdfFonts(
        language=language,
        regular=LATIN_FONT,
        bold=LATIN_BOLD_FONT,
        mono=MONO_FONT,
        fallback=EMBEDDED_CJK_FONT,
    )


def pdf_font(language: str) -> str:
    """The dataset card's font: Helvetica for Latin text, embedded IPAGothic for CJK.
    Cards keep Helvetica because a release re-renders to the bytes it was signed over."""
    if language.split("-")[0] not in CJK_LANGUAGES:
        return "Helvetica"
    return _register(EMBEDDED_CJK_FONT)


def pdf_language(language: str) -> str:
    """The UI language a PDF for ``language`` is written in (English if we have none)."""
    base = language.split("-")[0]
    return base if base in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def pdf_document_options(*, fonts: PdfFonts, title: str, subject: str = "") -> dict[str, Any]:
    """Keywords for ``SimpleDocTemplate``: the document information (title, shown by
    viewers instead of the file name; author, the controller; subject), the catalog's
    /Lang so screen readers pick the right voice, and the document's own font as the
    page's initial one (else reportlab adds an unembedded Helvetica to every page)."""
    return {
        "title": title,
        "author": settings.CONSENT_CONTROLLER["piiController"],
        "subject": subject,
        "creator": settings.CONSENT_CONTROLLER["piiController"],
        "lang": fonts.language,
        "displayDocTitle": True,
        "initialFontName": fonts.regular,
    }


def local_date(value: datetime.datetime | datetime.date) -> str:
    """A date as the active language writes it ("8. Dezember 2026", "2026年12月8日"),
    taken in UTC."""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC).date()
    return formats.date_format(value, "DATE_FORMAT")


def local_compact_date(value: datetime.datetime | datetime.date) -> str:
    """A date for a table column: the active language's short form ("28.09.2026",
    "2026/09/28"), unless that form puts the month first (English's 09/28/2026, misread
    as 9 February by most readers outside the US): then the long form ("Sept. 28, 2026")."""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC).date()
    short = str(formats.get_format("SHORT_DATE_FORMAT"))
    month_first = short[:1] in {"m", "n", "M", "F", "N", "b", "E"}
    return formats.date_format(value, "DATE_FORMAT" if month_first else "SHORT_DATE_FORMAT")


def local_timestamp(value: datetime.datetime) -> str:
    """A moment in UTC as the active language writes the date, with a 24-hour time to
    the second and the zone named ("8. Dezember 2026 00:12:24 UTC")."""
    moment = value.astimezone(datetime.UTC)
    return f"{local_date(moment)} {moment.strftime('%H:%M:%S')} UTC"


def local_number(value: object, decimals: int) -> str:
    """A number with the active language's decimal and thousands separators."""
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)  # type: ignore[arg-type]
