"""The PDF card: the same facts as the native card, for people (and regulators), with
tables and a consent-coverage chart. Rendered with reportlab in invariant mode, so a
release always renders to the same bytes and its signature keeps verifying."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.utils.html import escape
from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from datasetcards.cards.native import facts
from datasetcards.models import Release
from registry.pdf import pdf_font


def _needs_cjk(*texts: str) -> bool:
    return any(ord(ch) > 0x2E7F for text in texts for ch in text)


def coverage_chart(coverage: dict[str, float], font: str) -> Drawing:
    """Horizontal bars: share of recordings covered per purpose."""
    drawing = Drawing(170 * mm, 55 * mm)
    chart = HorizontalBarChart()
    chart.x, chart.y = 35 * mm, 5 * mm
    chart.width, chart.height = 125 * mm, 45 * mm
    chart.data = [[round(share * 100, 1) for share in coverage.values()]]
    chart.categoryAxis.categoryNames = list(coverage)
    chart.categoryAxis.labels.fontName = font
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 25
    chart.bars[0].fillColor = colors.HexColor("#0b5cad")
    drawing.add(chart)
    drawing.add(String(35 * mm, 52 * mm, "consent coverage, % of recordings", fontName=font))
    return drawing


def build_pdf(release: Release, card: dict[str, Any]) -> bytes:
    dataset, figures = facts(release), release.card_figures
    ab = card["ab2013"]
    font = (
        pdf_font("ja")
        if _needs_cjk(dataset.name, dataset.description, dataset.owner)
        else ("Helvetica")
    )
    bold = font if font != "Helvetica" else "Helvetica-Bold"
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontName=font, fontSize=9)
    heading = ParagraphStyle("heading", parent=styles["Heading2"], fontName=bold)
    title = ParagraphStyle("title", parent=styles["Title"], fontName=bold)

    def table(rows: list[list[Any]], widths: tuple[float, float] = (60, 110)) -> Table:
        cells = [
            [Paragraph(escape(str(a)), body), Paragraph(escape(str(b)), body)] for a, b in rows
        ]
        t = Table(cells, colWidths=[widths[0] * mm, widths[1] * mm])
        t.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ]
            )
        )
        return t

    glance = [
        ["Hours of conversation", figures["hours"]],
        ["Speaker-hours", figures["speaker_hours"]],
        ["Recordings", figures["recordings"]],
        ["Tracks", figures["tracks"]],
        ["Distinct speakers", figures["distinct_speakers"]],
        [
            "Speakers per session",
            ", ".join(
                f"{n} speakers: {count} recordings"
                for n, count in sorted(figures["speakers_per_session"].items())
            ),
        ],
        ["Isolated at source", f"{figures['isolated_at_source_share']:.1%}"],
        ["Languages", ", ".join(f"{r['language']} {r['hours']} h" for r in figures["languages"])],
        ["Sample rates", ", ".join(f"{r['sample_rate_hz']} Hz" for r in figures["sample_rates"])],
        ["Jurisdictions", ", ".join(r["jurisdiction"] for r in figures["jurisdictions"])],
        [
            "License",
            f"{dataset.license_spdx} (commercial redistribution: "
            f"{'yes' if dataset.commercial_redistribution else 'no'})",
        ],
        ["Training phase fit", ", ".join(dataset.phase_fit)],
        ["Manifest sha256", release.manifest_sha256],
        ["Errata", card["release"]["errata_count"]],
    ]
    ab2013 = [
        ["1 Sources and owners", f"{ab['sources_and_owners']['sources']} ({dataset.owner})"],
        ["2 Purpose", ab["purpose_furtherance"]],
        ["3 Data points", f"{ab['data_points']['count']} tracks"],
        ["4 Types", "; ".join(ab["data_point_types"])],
        ["5 IP status", ab["intellectual_property"]["status"]],
        ["6 Purchased or licensed", ab["purchased_or_licensed"]["description"]],
        ["7 Personal information", "yes"],
        ["8 Aggregate consumer information", "no"],
        ["9 Processing", ab["processing"]["description"]],
        [
            "10 Collection period",
            f"{ab['collection_period']['first_recorded_at']} – "
            f"{ab['collection_period']['last_recorded_at']}, ongoing: "
            f"{ab['collection_period']['ongoing']}",
        ],
        ["11 First used in training", ab["first_used_in_training"] or "not yet"],
        ["12 Synthetic data", "used" if ab["synthetic_data"]["used"] else "none"],
    ]
    eu = card["eu_ai_act_summary"]
    eu_rows = [
        [key.replace("_", " "), value] for section in eu.values() for key, value in section.items()
    ]
    regimes = [
        [
            f"{r['purpose']} · {r['jurisdiction']} · {r['language']} v{r['notice_version']}",
            f"{r['speakers']} speakers",
        ]
        for r in figures["consent_regimes"]
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{dataset.name} {release.version} dataset card",
        author=dataset.owner,
        invariant=True,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    ).build(
        [
            Paragraph(escape(f"{dataset.name} — release {release.version}"), title),
            Paragraph(escape(dataset.description), body),
            Paragraph(
                escape(
                    f"Status: {release.status}. Generated {card['generated_at']}. "
                    f"Redress: {dataset.redress_contact}."
                ),
                body,
            ),
            Spacer(1, 4 * mm),
            Paragraph("At a glance", heading),
            table(glance),
            Paragraph("Consent coverage", heading),
            coverage_chart(card["consent"]["coverage"], font),
            Paragraph("Consent regimes (notice versions × jurisdictions)", heading),
            table(regimes or [["none", ""]]),
            Paragraph("California AB-2013 training data summary", heading),
            table(ab2013),
            Paragraph("EU AI Act public summary of training content", heading),
            table(eu_rows, widths=(70, 100)),
            Spacer(1, 4 * mm),
            Paragraph(
                escape(
                    "Signed with Ed25519; verify against "
                    f"{settings.PUBLIC_BASE_URL}/.well-known/jwks.json."
                ),
                body,
            ),
        ]
    )
    return buffer.getvalue()
