"""The compliance report as a PDF (reportlab), laid out like the receipts and earnings
statements: A4, the embedded fonts of ``registry.pdf``, light rules between rows. Every
figure comes from ``propagation.reports``; this module only formats and says what each
one measures."""

from __future__ import annotations

import datetime
import io
from typing import Any

from django.conf import settings
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from consent.models import Purpose, VerificationStatus
from propagation.models import TargetKind
from propagation.reports import ComplianceReport, PropagationTimes
from registry.pdf import PdfFonts, pdf_document_options, pdf_fonts, pdf_language

WIDTH = 180 * mm  # A4 less 15 mm margins
SHADE = colors.Color(0.93, 0.95, 0.98)


def format_duration(value: datetime.timedelta | None) -> str:
    """A duration as people read it, in the largest unit that keeps it above one:
    "42.0 s", "12.5 min", "3.2 h", "4.1 d"; "–" for none."""
    if value is None:
        return "–"
    seconds = value.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def format_share(covered: int, total: int) -> str:
    """A share as a percentage with one decimal ("75.0%"); "–" when ``total`` is 0."""
    return f"{100 * covered / total:.1f}%" if total else "–"


def _day(value: datetime.datetime | datetime.date | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%d")


def _stamp(value: datetime.datetime | None) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "–"


def period_label(report: ComplianceReport) -> str:
    return f"{report.start.isoformat()} – {report.end.isoformat()}"


class _Styles:
    def __init__(self, fonts: PdfFonts) -> None:
        font, bold = fonts.regular, fonts.bold
        sheet = getSampleStyleSheet()
        self.fonts, self.font, self.bold = fonts, font, bold
        self.title = ParagraphStyle("title", parent=sheet["Title"], fontName=bold)
        self.heading = ParagraphStyle(
            "heading", parent=sheet["Heading3"], fontName=bold, spaceBefore=8, spaceAfter=3
        )
        self.body = ParagraphStyle("body", parent=sheet["BodyText"], fontName=font, fontSize=9)
        self.note = ParagraphStyle(
            "note", parent=self.body, fontSize=8, leading=10, textColor=colors.dimgrey
        )
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8, leading=10)
        self.code = ParagraphStyle("code", parent=self.cell, fontName=fonts.mono, fontSize=7)

    def text(self, value: object) -> str:
        """Text we did not write, escaped, in a font that has its glyphs."""
        return self.fonts.markup(value)


def _table(
    rows: list[list[Any]],
    widths: list[float],
    styles: _Styles,
    *,
    numeric_from: int | None = None,
    total_row: bool = False,
    extra: list[tuple[Any, ...]] | None = None,
) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, 0), styles.bold),
        ("FONTNAME", (0, 1), (-1, -1), styles.font),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), 10),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.grey),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
    ]
    if numeric_from is not None:
        commands.append(("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"))
    if total_row:
        commands += [
            ("FONTNAME", (0, -1), (-1, -1), styles.bold),
            ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.grey),
        ]
    table.setStyle(TableStyle(commands + (extra or [])))
    return table


def _section(title: str, styles: _Styles, *parts: Flowable) -> list[Flowable]:
    # The heading stays with its explanation and the first rows of its table.
    return [KeepTogether([Paragraph(escape(title), styles.heading), *parts[:2]]), *parts[2:]]


def _acts(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "Consent events that occurred in the period, by purpose and by the speaker's "
            "jurisdiction at the time of the act. Given: a first grant or a grant after a "
            "withdrawal; renewed: consent confirmed again; withdrawn: by the speaker or on "
            "their documented request; expired: lapsed at the end of its retention period."
        ),
        styles.note,
    )
    if not report.acts:
        return _section(
            _("1. Consent granted and withdrawn"),
            styles,
            explain,
            Paragraph(
                _("No consent was given, renewed, withdrawn or expired in the period."), styles.body
            ),
        )
    header = [
        _("Jurisdiction"),
        _("Purpose"),
        _("Given"),
        _("Renewed"),
        _("Withdrawn"),
        _("Expired"),
    ]
    rows: list[list[Any]] = [header]
    for act in report.acts:
        rows.append(
            [act.jurisdiction, act.purpose, act.given, act.renewed, act.withdrawn, act.expired]
        )
    total = report.acts_total
    rows.append([_("All"), "", total.given, total.renewed, total.withdrawn, total.expired])
    widths = [30 * mm, 50 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm]
    return _section(
        _("1. Consent granted and withdrawn"),
        styles,
        explain,
        _table(rows, widths, styles, numeric_from=2, total_row=True),
    )


def _times_row(times: PropagationTimes, label: str) -> list[Any]:
    return [
        label,
        times.targets,
        times.done,
        times.not_done,
        format_duration(times.median),
        format_duration(times.p95),
    ]


def _propagation(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "Every place a withdrawal, expiry or erasure that took effect in the period had "
            "to reach (releases, licensees, derived models, stored audio, voiceprints, "
            "personal data). Measured per target: from the moment the registry recorded "
            "the withdrawal to the target's final state, acknowledged (done by the "
            "registry, or confirmed by the licensee or model owner). Targets not done yet "
            "are counted, not timed. Percentiles are interpolated."
        ),
        styles.note,
    )
    if not report.propagation_total.targets:
        return _section(
            _("2. Propagation time"),
            styles,
            explain,
            Paragraph(_("No withdrawal in the period had a place to reach."), styles.body),
        )
    header = [_("Target"), _("Targets"), _("Done"), _("Not done"), _("Median"), _("95th pct.")]
    rows: list[list[Any]] = [header]
    for times in report.propagation:
        rows.append(_times_row(times, str(TargetKind(times.kind).label).split(" (")[0]))
    rows.append(_times_row(report.propagation_total, _("All targets")))
    widths = [60 * mm, 24 * mm, 24 * mm, 24 * mm, 24 * mm, 24 * mm]
    return _section(
        _("2. Propagation time"),
        styles,
        explain,
        _table(rows, widths, styles, numeric_from=1, total_row=True),
    )


def _overdue(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "Withdrawal notices delivered to a licensee or model owner and not acknowledged "
            "by their deadline, as the deadline check flags them (the propagation backlog's "
            "count)."
        ),
        styles.note,
    )
    summary = Paragraph(
        _(
            "Overdue now (%(at)s): <b>%(now)s</b>. Flagged overdue during the period: "
            "<b>%(period)s</b>."
        )
        % {
            "at": _stamp(report.generated_at),
            "now": report.overdue_now,
            "period": report.flagged_overdue_in_period,
        },
        styles.body,
    )
    parts: list[Flowable] = [explain, summary]
    if report.overdue_listed:
        header = [
            _("Kind"),
            _("Target id"),
            _("Licensee"),
            _("Delivered"),
            _("Due"),
            _("Flagged"),
        ]
        rows: list[list[Any]] = [header]
        for target in report.overdue_listed:
            rows.append(
                [
                    target.kind,
                    Paragraph(str(target.id), styles.code),
                    Paragraph(styles.text(target.licensee), styles.cell),
                    _day(target.delivered_at),
                    _day(target.ack_due_at),
                    _day(target.flagged_at),
                ]
            )
        # The id's column fits a UUID in Courier 7 pt on one line (it is searched for).
        widths = [22 * mm, 60 * mm, 38 * mm, 20 * mm, 20 * mm, 20 * mm]
        parts += [Spacer(1, 2 * mm), _table(rows, widths, styles)]
        if report.overdue_now > len(report.overdue_listed):
            more = report.overdue_now - len(report.overdue_listed)
            parts.append(
                Paragraph(_("… and %(more)s more (see the admin).") % {"more": more}, styles.note)
            )
    return _section(_("3. Overdue acknowledgements"), styles, *parts)


def _rules(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "Jurisdiction rules in force on at least one day of the period. A parent's "
            "rules (US, EU) apply in the jurisdictions under it; where rules differ the "
            "strictest applies."
        ),
        styles.note,
    )
    if not report.rules:
        return _section(
            _("4. Rules in force"),
            styles,
            explain,
            Paragraph(_("No rule was in force."), styles.body),
        )
    rows: list[list[Any]] = [[_("Jurisdiction"), _("Purpose"), _("In force"), _("Citation")]]
    for rule in report.rules:
        until = rule.effective_to.isoformat() if rule.effective_to else _("no end")
        rows.append(
            [
                rule.jurisdiction,
                rule.purpose or _("every purpose"),
                Paragraph(f"{rule.effective_from.isoformat()} –<br/>{escape(until)}", styles.cell),
                Paragraph(
                    f"<b>{styles.text(rule.citation)}</b><br/>{styles.text(rule.summary)}",
                    styles.cell,
                ),
            ]
        )
    widths = [22 * mm, 26 * mm, 24 * mm, 108 * mm]
    return _section(_("4. Rules in force"), styles, explain, _table(rows, widths, styles))


def _chain(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "The consent event log is one hash chain. A verification recomputes every "
            "event's hash and checks every signed checkpoint; checkpoints sign the chain's "
            "head at a moment."
        ),
        styles.note,
    )
    rows: list[list[Any]] = []
    run = report.verification
    if run is None:
        rows.append([_("Latest verification"), _("none has been run")])
    else:
        verdict = str(VerificationStatus(run.status).label)
        rows += [
            [_("Latest verification"), f"{verdict} ({_stamp(run.finished_at)})"],
            [_("Events checked"), f"{run.events_checked}"],
            [
                _("Head"),
                Paragraph(f"#{run.head_seq} {escape(run.head_hash) or '–'}", styles.code),
            ],
            [_("Checkpoints checked"), f"{run.checkpoints_checked}"],
        ]
        if run.problems:
            problems = styles.text(run.problems[:1500]).replace("\n", "<br/>")
            rows.append([_("Problems"), Paragraph(problems, styles.cell)])
    checkpoint = report.checkpoint
    if checkpoint is None:
        rows.append([_("Latest signed checkpoint"), _("none yet")])
    else:
        rows += [
            [
                _("Latest signed checkpoint"),
                f"#{checkpoint.seq}, {checkpoint.event_count} events "
                f"({_stamp(checkpoint.created_at)})",
            ],
            [_("Checkpoint head"), Paragraph(escape(checkpoint.head_hash), styles.code)],
            [_("Signing key"), Paragraph(escape(checkpoint.kid), styles.code)],
        ]
    table = Table(rows, colWidths=[45 * mm, 135 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), styles.bold),
                ("FONTNAME", (1, 0), (1, -1), styles.font),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    return _section(_("5. Audit chain"), styles, explain, table)


def _coverage(report: ComplianceReport, styles: _Styles) -> list[Flowable]:
    explain = Paragraph(
        _(
            "For each dataset's latest release built by the end of the period: the share "
            "of its recordings that every participant's consent still covered for each "
            "purpose at %(at)s (the dataset card's definition; withdrawals since the build "
            "lower it), with the number of recordings below. Shaded: a purpose the dataset "
            "requires."
        )
        % {"at": _stamp(report.measured_at)},
        styles.note,
    )
    if not report.coverage:
        return _section(
            _("6. Consent coverage per dataset"),
            styles,
            explain,
            Paragraph(_("No dataset is defined."), styles.body),
        )
    purposes = Purpose.values
    header = [_("Dataset"), _("Release"), _("Recordings"), *purposes]
    rows: list[list[Any]] = [header]
    shaded: list[tuple[Any, ...]] = []
    for index, dataset in enumerate(report.coverage, start=1):
        if dataset.release is None:
            release: Any = _("none built")
            cells = ["–"] * len(purposes)
        else:
            release = Paragraph(
                f"{styles.text(dataset.release)}<br/>{_day(dataset.release_as_of)}", styles.cell
            )
            cells = [
                f"{format_share(dataset.covered[p], dataset.recordings)}\n{dataset.covered[p]}"
                for p in purposes
            ]
        rows.append(
            [Paragraph(styles.text(dataset.slug), styles.cell), release, dataset.recordings, *cells]
        )
        for column, purpose in enumerate(purposes, start=3):
            if purpose in dataset.intended_purposes:
                shaded.append(("BACKGROUND", (column, index), (column, index), SHADE))
    widths = [30 * mm, 22 * mm, 18 * mm, *([22 * mm] * len(purposes))]
    table = _table(rows, widths, styles, numeric_from=2, extra=shaded)
    return _section(_("6. Consent coverage per dataset"), styles, explain, table)


def compliance_report_pdf(report: ComplianceReport) -> bytes:
    """The report as an A4 PDF: six numbered sections, a footer with the period and the
    page number on every page. Written in the active language, in a font that has its
    glyphs (a CJK font for Japanese)."""
    language = pdf_language(get_language() or settings.LANGUAGE_CODE)
    styles = _Styles(pdf_fonts(language))
    if report.jurisdiction:
        place = _("%(code)s and the jurisdictions under it (%(codes)s)") % {
            "code": report.jurisdiction,
            "codes": ", ".join(report.scope or ()),
        }
    else:
        place = _("all")
    heading = [
        Paragraph(_("Compliance report"), styles.title),
        Paragraph(
            _("Period: %(period)s (UTC, both days included)") % {"period": period_label(report)},
            styles.body,
        ),
        Paragraph(_("Jurisdiction: %(place)s") % {"place": styles.text(place)}, styles.body),
        Paragraph(
            _("Generated %(at)s by %(controller)s. Ids and counts only: no personal data.")
            % {
                "at": _stamp(report.generated_at),
                "controller": styles.text(settings.CONSENT_CONTROLLER["piiController"]),
            },
            styles.note,
        ),
        Spacer(1, 2 * mm),
    ]
    story = [
        *heading,
        *_acts(report, styles),
        *_propagation(report, styles),
        *_overdue(report, styles),
        *_rules(report, styles),
        *_chain(report, styles),
        *_coverage(report, styles),
    ]
    footer = _("Compliance report %(period)s") % {"period": period_label(report)}

    def on_page(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(styles.font, 7)
        canvas.setFillColor(colors.dimgrey)
        canvas.drawString(15 * mm, 10 * mm, footer)
        canvas.drawRightString(195 * mm, 10 * mm, _("page %(n)s") % {"n": document.page})
        canvas.restoreState()

    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        **pdf_document_options(fonts=styles.fonts, title=footer),
    ).build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
