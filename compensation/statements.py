"""Earnings statements for speakers: CSV (one line per ledger entry) and PDF."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator, Mapping
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from compensation.selectors import Statement
from registry.pdf import (
    PdfFonts,
    local_compact_date,
    local_date,
    local_number,
    pdf_document_options,
    pdf_fonts,
    pdf_language,
)

CSV_HEADER = [
    "date",
    "kind",
    "description",
    "hours",
    "rate_per_hour",
    "currency",
    "amount",
    "balance",
]


def _period(statement: Statement) -> str:
    """The period in the active language, both ends inclusive as people read a period
    (the query's end is exclusive); "all time" for a statement without bounds."""
    start, end = statement.period_start, statement.period_end
    last_day = local_date(end - datetime.timedelta(days=1)) if end else None
    if start and last_day:
        return _("%(start)s – %(end)s") % {"start": local_date(start), "end": last_day}
    if start:
        return _("from %(start)s") % {"start": local_date(start)}
    if last_day:
        return _("until %(end)s") % {"end": last_day}
    return _("all time")


def statement_csv(statement: Statement) -> Iterator[str]:
    """The statement as CSV rows, one string per row (for a streaming response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(CSV_HEADER)
    yield flush()
    for currency, amount in sorted(statement.opening.items()):
        writer.writerow(["", "opening", "opening balance", "", "", currency, "", amount])
        yield flush()
    for line in statement.lines:
        writer.writerow(
            [
                line.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                line.kind,
                line.description,
                "" if line.hours is None else line.hours,
                "" if line.rate is None else line.rate,
                line.currency,
                line.amount,
                line.balance,
            ]
        )
        yield flush()
    for currency, amount in sorted(statement.closing.items()):
        writer.writerow(["", "closing", "closing balance", "", "", currency, "", amount])
        yield flush()


def statement_pdf(statement: Statement, *, language: str = "en") -> bytes:
    """A printable statement in ``language``: period, opening and closing balances,
    every entry, with dates and amounts written as that language writes them."""
    language = pdf_language(language)
    with translation.override(language):
        return _statement_pdf(statement, pdf_fonts(language))


def _money(amount: Decimal, currency: str) -> str:
    """An amount to the places it was quantized to (the currency's minor unit)."""
    exponent = amount.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{local_number(amount, places)} {currency}"


def _statement_pdf(statement: Statement, fonts: PdfFonts) -> bytes:
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=fonts.regular)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    number = ParagraphStyle("number", parent=cell, alignment=TA_RIGHT)
    head = ParagraphStyle("head", parent=cell, fontName=fonts.bold)
    head_number = ParagraphStyle("head_number", parent=head, alignment=TA_RIGHT)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=fonts.bold)
    heading = ParagraphStyle("heading", parent=styles["Heading3"], fontName=fonts.bold)

    def text(value: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(fonts.markup(value, font=style.fontName), style)

    rows: list[list[object]] = [
        [
            text(_("Date"), head),
            text(_("Entry"), head),
            text(_("Hours"), head_number),
            text(_("Amount"), head_number),
            text(_("Balance"), head_number),
        ]
    ]
    for line in statement.lines:
        if line.kind == "accrual":
            entry = _("Earned for recording %(id)s") % {"id": line.reference}
        else:
            entry = _("Paid out (%(reference)s)") % {"reference": line.reference}
        rows.append(
            [
                text(local_compact_date(line.occurred_at), cell),
                text(entry, cell),
                text("" if line.hours is None else local_number(line.hours, 3), number),
                text(_money(line.amount, line.currency), number),
                text(_money(line.balance, line.currency), number),
            ]
        )
    table = Table(rows, colWidths=[26 * mm, 76 * mm, 18 * mm, 30 * mm, 30 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), fonts.regular),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )

    # A balance names its currency even when it is nothing yet: an opening balance with no
    # entries before the period reads "0.00 EUR" in the currencies the period moved.
    # Zero is written to the currency's minor unit, as the other balance of it is.
    zero = {
        currency: Decimal(0).quantize(amount)
        for currency, amount in {**statement.closing, **statement.opening}.items()
    }

    def totals(values: Mapping[str, Decimal]) -> str:
        return ", ".join(
            _money(values.get(currency, zero[currency]), currency) for currency in sorted(zero)
        ) or local_number(0, 0)

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        **pdf_document_options(
            title=_("Earnings statement"),
            subject=_("Period: %(period)s") % {"period": _period(statement)},
            fonts=fonts,
        ),
    ).build(
        [
            text(_("Earnings statement"), title),
            text(_("Speaker %(id)s") % {"id": statement.speaker_id}),
            text(_("Period: %(period)s") % {"period": _period(statement)}),
            text(
                _(
                    "Paid per recorded hour per speaker. Withdrawing consent never reduces "
                    "what was earned."
                )
            ),
            Spacer(1, 4 * mm),
            text(_("Opening balance: %(amount)s") % {"amount": totals(statement.opening)}),
            Spacer(1, 2 * mm),
            table if statement.lines else text(_("No entries in this period.")),
            Spacer(1, 4 * mm),
            text(_("Closing balance: %(amount)s") % {"amount": totals(statement.closing)}, heading),
        ]
    )
    return buffer.getvalue()
