"""Earnings statements for speakers: CSV (one line per ledger entry) and PDF."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator, Mapping

from django.conf import settings
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from compensation.selectors import Statement
from registry.pdf import pdf_font, pdf_language

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
    """Both ends inclusive, as people read a period (the query's end is exclusive)."""
    start = statement.period_start.date().isoformat() if statement.period_start else "…"
    last_day = statement.period_end - datetime.timedelta(days=1) if statement.period_end else None
    end = last_day.date().isoformat() if last_day else "…"
    return f"{start} – {end}"


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
    every entry. Japanese text is set in the CJK font receipts use."""
    with translation.override(pdf_language(language)):
        return _statement_pdf(statement, pdf_font(language))


def _statement_pdf(statement: Statement, font: str) -> bytes:
    bold = font if font != "Helvetica" else "Helvetica-Bold"
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=bold)
    heading = ParagraphStyle("heading", parent=styles["Heading3"], fontName=bold)
    rows: list[list[object]] = [[_("Date"), _("Entry"), _("Hours"), _("Amount"), _("Balance")]]
    for line in statement.lines:
        if line.kind == "accrual":
            entry = _("Earned for recording %(id)s") % {"id": line.reference}
        else:
            entry = _("Paid out (%(reference)s)") % {"reference": line.reference}
        rows.append(
            [
                line.occurred_at.strftime("%Y-%m-%d"),
                Paragraph(escape(entry), body),
                "" if line.hours is None else f"{line.hours:.3f}",
                f"{line.amount} {line.currency}",
                f"{line.balance} {line.currency}",
            ]
        )
    table = Table(rows, colWidths=[24 * mm, 76 * mm, 18 * mm, 28 * mm, 28 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), bold),
                ("FONTNAME", (0, 1), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )

    def totals(values: Mapping[str, object]) -> str:
        return ", ".join(f"{amount} {currency}" for currency, amount in sorted(values.items()))

    period = _period(statement)
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title="Earnings statement",
        author=settings.CONSENT_CONTROLLER["piiController"],
        leftMargin=15 * mm,
        rightMargin=15 * mm,
    ).build(
        [
            Paragraph(_("Earnings statement"), title),
            Paragraph(_("Speaker %(id)s") % {"id": statement.speaker_id}, body),
            Paragraph(_("Period: %(period)s") % {"period": period}, body),
            Paragraph(
                _(
                    "Paid per recorded hour per speaker. Withdrawing consent never reduces "
                    "what was earned."
                ),
                body,
            ),
            Spacer(1, 4 * mm),
            Paragraph(
                _("Opening balance: %(amount)s") % {"amount": totals(statement.opening) or "0"},
                body,
            ),
            Spacer(1, 2 * mm),
            table if statement.lines else Paragraph(_("No entries in this period."), body),
            Spacer(1, 4 * mm),
            Paragraph(
                _("Closing balance: %(amount)s") % {"amount": totals(statement.closing) or "0"},
                heading,
            ),
        ]
    )
    return buffer.getvalue()
