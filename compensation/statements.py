"""Earnings statements for speakers: CSV (one line per ledger entry) and PDF."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from compensation.selectors import Statement

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
    start = statement.period_start.date().isoformat() if statement.period_start else "start"
    end = statement.period_end.date().isoformat() if statement.period_end else "today"
    return f"{start} to {end}"


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


def statement_pdf(statement: Statement) -> bytes:
    """A printable statement: period, opening and closing balances, every entry."""
    styles = getSampleStyleSheet()
    rows: list[list[object]] = [["Date", "Entry", "Hours", "Amount", "Balance"]]
    for line in statement.lines:
        rows.append(
            [
                line.occurred_at.strftime("%Y-%m-%d"),
                Paragraph(line.description, styles["BodyText"]),
                "" if line.hours is None else f"{line.hours:.3f}",
                f"{line.amount} {line.currency}",
                f"{line.balance} {line.currency}",
            ]
        )
    table = Table(rows, colWidths=[24 * mm, 76 * mm, 18 * mm, 28 * mm, 28 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )

    def totals(values: Mapping[str, object]) -> str:
        return ", ".join(f"{amount} {currency}" for currency, amount in sorted(values.items()))

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
            Paragraph("Earnings statement", styles["Title"]),
            Paragraph(f"Speaker {statement.speaker_id}", styles["BodyText"]),
            Paragraph(f"Period: {_period(statement)}", styles["BodyText"]),
            Paragraph(
                "Paid per recorded hour per speaker. Withdrawing consent never reduces what "
                "was earned.",
                styles["BodyText"],
            ),
            Spacer(1, 4 * mm),
            Paragraph(f"Opening balance: {totals(statement.opening) or '0'}", styles["BodyText"]),
            Spacer(1, 2 * mm),
            table
            if statement.lines
            else Paragraph("No entries in this period.", styles["BodyText"]),
            Spacer(1, 4 * mm),
            Paragraph(f"Closing balance: {totals(statement.closing) or '0'}", styles["Heading3"]),
        ]
    )
    return buffer.getvalue()
