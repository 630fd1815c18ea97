"""The compliance report: every figure equals a count written here independently (raw
SQL or ORM aggregates over the seeded rows), the PDF opens and shows those figures, only
staff who may export generate one (each one logged), and bad input changes nothing."""

from __future__ import annotations

import datetime
import io
import re
import statistics
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from consent import chain
from consent.eligibility import eligible_recordings
from consent.models import ChainVerification, JurisdictionRule, Purpose, VerificationStatus
from datasetcards.models import ReleaseItem
from propagation import reports
from propagation import services as propagation
from propagation.models import PropagationTarget, TargetKind, TargetStatus
from propagation.report_pdf import compliance_report_pdf, format_duration, format_share
from propagation.selectors import propagation_backlog
from registry.models import AccessAction, AccessLogEntry
from tests.admin_login import verified_login
from tests.consent.conftest import give, withdraw
from tests.factories import SpeakerFactory
from tests.propagation.conftest import World, deliver_all

pytestmark = pytest.mark.django_db

DELIVERED_AFTER = datetime.timedelta(minutes=10)
MODEL_ACKNOWLEDGED_AFTER = datetime.timedelta(days=1)


@dataclass
class Seeded:
    world: World
    start: datetime.date
    end: datetime.date
    overdue: PropagationTarget


@pytest.fixture
def seeded(world: World) -> Seeded:
    """Three jurisdictions (US-IL, JP, DE under EU), grants and withdrawals of several
    purposes, withdrawals that reached releases, a voiceprint, a licensee (overdue)
    and a model owner (acknowledged a day later), a verified chain and a checkpoint."""
    jp = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    de = SpeakerFactory(jurisdiction="DE", preferred_language="de")
    for purpose in ("recording", "training", "likeness"):
        give(jp, purpose)
    for purpose in ("training", "biometric"):
        give(de, purpose)
    withdraw(jp, "likeness")
    withdraw(de, "training")
    withdraw(world.a, "training")  # duplex release, the license, the model
    withdraw(world.a, "biometric")  # voiceprints release, a's voiceprint
    withdraw(world.b, "biometric")  # voiceprints release
    now = timezone.now()
    with time_machine.travel(now + DELIVERED_AFTER):
        deliver_all()
    model_notice = PropagationTarget.objects.get(kind=TargetKind.DERIVED_MODEL)
    with time_machine.travel(now + MODEL_ACKNOWLEDGED_AFTER):
        propagation.acknowledge_delivery(target=model_notice)
    license_notice = PropagationTarget.objects.get(kind=TargetKind.LICENSE)
    assert license_notice.status == TargetStatus.DELIVERED
    assert license_notice.ack_due_at is not None
    flagged = propagation.flag_overdue_acknowledgements(
        now=license_notice.ack_due_at + datetime.timedelta(minutes=1)
    )
    assert flagged == 1
    chain.write_checkpoint()
    head = chain.verify_chain()
    ChainVerification.objects.create(
        requested_by="compliance-officer",
        requested_at=timezone.now(),
        status=VerificationStatus.OK,
        total=head.events_checked,
        checked=head.events_checked,
        finished_at=timezone.now(),
        events_checked=head.events_checked,
        head_seq=head.head_seq,
        head_hash=head.head_hash,
        checkpoints_checked=1,
    )
    today = timezone.now().date()
    # Through the overdue flag (14 days out), so it falls inside the period too.
    license_notice.refresh_from_db()
    return Seeded(
        world=world,
        start=today - datetime.timedelta(days=1),
        end=today + datetime.timedelta(days=20),
        overdue=license_notice,
    )


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def _bounds(seeded: Seeded) -> tuple[datetime.datetime, datetime.datetime]:
    return _midnight(seeded.start), _midnight(seeded.end + datetime.timedelta(days=1))


def _sql(query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())


def _expected_acts(begins: datetime.datetime, ends: datetime.datetime) -> dict[tuple, tuple]:
    rows = _sql(
        """SELECT jurisdiction, purpose,
                  count(*) FILTER (WHERE action = 'give'),
                  count(*) FILTER (WHERE action = 'renew'),
                  count(*) FILTER (WHERE action = 'withdraw'),
                  count(*) FILTER (WHERE action = 'expire')
             FROM consent_consentevent
            WHERE occurred_at >= %s AND occurred_at < %s
              AND action IN ('give', 'renew', 'withdraw', 'expire')
            GROUP BY jurisdiction, purpose""",
        [begins, ends],
    )
    return {(j, p): tuple(counts) for j, p, *counts in rows}


def _percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _expected_times(begins: datetime.datetime, ends: datetime.datetime) -> dict[str, dict]:
    rows = _sql(
        """SELECT t.kind, t.status, EXTRACT(EPOCH FROM t.acknowledged_at - p.effective_at)
             FROM propagation_propagationtarget t
             JOIN propagation_propagation p ON p.id = t.propagation_id
            WHERE p.effective_at >= %s AND p.effective_at < %s""",
        [begins, ends],
    )
    result: dict[str, dict] = {}
    for key in {"", *(kind for kind, _, _ in rows)}:
        chosen = [r for r in rows if key in ("", r[0])]
        done = [float(seconds) for _, status, seconds in chosen if status == "acknowledged"]
        result[key] = {
            "targets": len(chosen),
            "done": len(done),
            "median": statistics.median(done) if done else None,
            "p95": _percentile(done, 0.95) if done else None,
        }
    return result


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


# --- the figures ---------------------------------------------------------------------


def test_consent_acts_equal_the_events_counted_in_sql(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    expected = _expected_acts(*_bounds(seeded))
    got = {
        (a.jurisdiction, a.purpose): (a.given, a.renewed, a.withdrawn, a.expired)
        for a in report.acts
    }
    assert got == expected
    assert {j for j, _ in got} == {"US-IL", "JP", "DE"}
    assert got["US-IL", "training"][2] == 1  # a's withdrawal
    assert got["JP", "likeness"] == (1, 0, 1, 0)
    assert report.acts_total.given == sum(v[0] for v in expected.values())
    assert report.acts_total.withdrawn == sum(v[2] for v in expected.values()) == 5


def test_events_outside_the_period_are_not_counted(seeded: Seeded) -> None:
    earlier = seeded.start - datetime.timedelta(days=30)
    report = reports.compliance_report(start=earlier, end=earlier + datetime.timedelta(days=27))
    assert report.acts == []
    assert report.acts_total.given == 0
    assert report.propagation_total.targets == 0


def test_propagation_times_equal_the_targets_measured_in_sql(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    expected = _expected_times(*_bounds(seeded))
    rows = {t.kind: t for t in [*report.propagation, report.propagation_total]}
    assert set(rows) == set(expected)
    assert {"release", "license", "derived_model", "voiceprint"} <= set(rows)
    for kind, figures in expected.items():
        row = rows[kind]
        assert (row.targets, row.done) == (figures["targets"], figures["done"]), kind
        for name in ("median", "p95"):
            value = getattr(row, name)
            if figures[name] is None:
                assert value is None
            else:
                assert value.total_seconds() == pytest.approx(figures[name], abs=1e-3), kind
    # The licensee has not acknowledged: counted, not timed.
    assert (rows["license"].targets, rows["license"].done, rows["license"].median) == (1, 0, None)
    # The model owner acknowledged a day after the withdrawal.
    assert rows["derived_model"].median >= MODEL_ACKNOWLEDGED_AFTER
    assert DELIVERED_AFTER <= rows["release"].median < MODEL_ACKNOWLEDGED_AFTER


def test_overdue_acknowledgements_are_the_backlogs(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    assert report.overdue_now == propagation_backlog().overdue == 1
    (listed,) = report.overdue_listed
    assert listed.id == seeded.overdue.idempotency_key
    assert listed.kind == TargetKind.LICENSE
    assert listed.licensee == seeded.world.licensee.name
    assert report.flagged_overdue_in_period == 1
    # An acknowledgement takes it off the list (the flag stays in the history).
    propagation.acknowledge_delivery(target=seeded.overdue)
    later = reports.compliance_report(start=seeded.start, end=seeded.end)
    assert (later.overdue_now, later.overdue_listed, later.flagged_overdue_in_period) == (0, [], 1)


def test_rules_in_force_are_those_effective_on_a_day_of_the_period(seeded: Seeded) -> None:
    JurisdictionRule.objects.create(
        jurisdiction_id="US-IL",
        purpose="training",
        effective_from=datetime.date(2001, 1, 1),
        effective_to=datetime.date(2002, 1, 1),
        citation="Repealed test rule",
        summary="No longer in force.",
    )
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    day_after = seeded.end + datetime.timedelta(days=1)
    expected = [
        (r.jurisdiction_id, r.purpose, r.citation)
        for r in JurisdictionRule.objects.order_by("jurisdiction_id", "purpose", "effective_from")
        if r.effective_from < day_after
        and (r.effective_to is None or r.effective_to > seeded.start)
    ]
    assert [(r.jurisdiction, r.purpose, r.citation) for r in report.rules] == expected
    assert "Repealed test rule" not in {r.citation for r in report.rules}
    eu = reports.compliance_report(start=seeded.start, end=seeded.end, jurisdiction="DE")
    assert {r.jurisdiction for r in eu.rules} == {"EU"}  # DE has none of its own


def test_chain_section_reads_the_latest_verification_and_checkpoint(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    assert report.verification == ChainVerification.objects.latest("requested_at")
    assert report.checkpoint is not None
    assert report.checkpoint.seq == report.checkpoint.event_count > 0


def test_dataset_coverage_equals_eligibility_at_the_end_of_the_period(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    world = seeded.world
    by_slug = {c.slug: c for c in report.coverage}
    assert set(by_slug) == {world.training.slug, world.biometric.slug}
    for dataset, release in (
        (world.training, world.release),
        (world.biometric, world.biometric_release),
    ):
        coverage = by_slug[dataset.slug]
        recordings = ReleaseItem.objects.filter(release=release).values("recording_id")
        assert coverage.release == release.version
        assert coverage.recordings == len({r["recording_id"] for r in recordings})
        for purpose in Purpose.values:
            eligible = eligible_recordings(purpose=purpose, at=report.measured_at).filter(
                pk__in=recordings
            )
            assert coverage.covered[purpose] == eligible.count(), (dataset.slug, purpose)
    # a withdrew training: only the call without a is still covered.
    assert by_slug[world.training.slug].covered["training"] == 1
    assert by_slug[world.training.slug].recordings == 4


def test_a_jurisdiction_narrows_every_section_to_it_and_those_under_it(seeded: Seeded) -> None:
    eu = reports.compliance_report(start=seeded.start, end=seeded.end, jurisdiction="EU")
    assert eu.scope == ("DE", "EU", "FR")
    assert {(a.jurisdiction, a.purpose) for a in eu.acts} == {
        ("DE", "training"),
        ("DE", "biometric"),
    }
    assert eu.propagation_total.targets == 0  # DE's speaker has no recordings
    assert (eu.overdue_now, eu.flagged_overdue_in_period) == (0, 0)
    assert all(c.recordings == 0 for c in eu.coverage)
    us = reports.compliance_report(start=seeded.start, end=seeded.end, jurisdiction="US")
    assert {a.jurisdiction for a in us.acts} == {"US-IL"}
    everything = reports.compliance_report(start=seeded.start, end=seeded.end)
    assert us.propagation_total.targets == everything.propagation_total.targets > 0
    assert us.overdue_now == 1


# --- the PDF ---------------------------------------------------------------------------


def test_the_pdf_opens_and_shows_the_figures(seeded: Seeded) -> None:
    report = reports.compliance_report(start=seeded.start, end=seeded.end)
    text = _text(compliance_report_pdf(report))
    assert "Compliance report" in text
    assert f"{seeded.start.isoformat()} – {seeded.end.isoformat()}" in text
    for act in report.acts:
        counts = f"{act.given} {act.renewed} {act.withdrawn} {act.expired}"
        assert f"{act.jurisdiction} {act.purpose} {counts}" in text
    total = report.acts_total
    assert f"All {total.given} {total.renewed} {total.withdrawn} {total.expired}" in text
    times = report.propagation_total
    assert (
        f"All targets {times.targets} {times.done} {times.not_done} "
        f"{format_duration(times.median)} {format_duration(times.p95)}"
    ) in text
    model = next(t for t in report.propagation if t.kind == TargetKind.DERIVED_MODEL)
    assert f"Derived model 1 1 0 {format_duration(model.median)}" in text
    assert f"Overdue now ({report.generated_at:%Y-%m-%d %H:%M} UTC): {report.overdue_now}." in text
    assert str(seeded.overdue.idempotency_key) in text
    for rule in report.rules:
        assert rule.citation[:30] in text
    assert "Chain intact" in text
    assert report.checkpoint is not None
    assert report.checkpoint.head_hash in text
    for coverage in report.coverage:
        assert coverage.slug in text
        for purpose in Purpose.values:
            share = format_share(coverage.covered[purpose], coverage.recordings)
            assert f"{share} {coverage.covered[purpose]}" in text
    assert "from the moment the registry recorded the withdrawal" in text


def test_the_pdf_of_an_empty_period_says_so() -> None:
    report = reports.compliance_report(
        start=datetime.date(2001, 1, 1), end=datetime.date(2001, 1, 31)
    )
    text = _text(compliance_report_pdf(report))
    assert "No consent was given" in text
    assert "No withdrawal in the period" in text
    assert "none has been run" in text


# --- the admin page --------------------------------------------------------------------

URL = "admin:compliance_report"


def _member(client: Client, role: str) -> User:
    user = User.objects.create_user(role.lower().replace(" ", "-"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    verified_login(client, user)
    return user


def _post(client: Client, **data: str) -> Any:
    return client.post(reverse(URL), data)


def test_an_officer_generates_the_pdf_and_it_is_logged(client: Client, seeded: Seeded) -> None:
    _member(client, "Compliance officer")
    page = client.get(reverse(URL))
    assert page.status_code == 200
    assert b"Generate the PDF" in page.content
    response = _post(
        client, start=seeded.start.isoformat(), end=seeded.end.isoformat(), jurisdiction="US"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="compliance-report_{seeded.start}_{seeded.end}_US.pdf"'
    )
    text = _text(response.content)
    assert "US and the jurisdictions under it" in text
    entry = AccessLogEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_kind) == (
        AccessAction.REPORT_GENERATED,
        "compliance-officer",
        "admin",
    )
    assert entry.detail == {
        "from": seeded.start.isoformat(),
        "to": seeded.end.isoformat(),
        "jurisdiction": "US",
        "via": "admin",
    }


def test_the_events_list_links_to_the_report_for_officers_only(client: Client, notices) -> None:
    _member(client, "Compliance officer")
    listing = client.get(reverse("admin:consent_consentevent_changelist")).content.decode()
    assert reverse(URL) in listing
    client.logout()
    _member(client, "Support")
    listing = client.get(reverse("admin:consent_consentevent_changelist")).content.decode()
    assert reverse(URL) not in listing


@pytest.mark.parametrize("role", ["Data steward", "Support"])
def test_other_roles_may_not_generate_a_report(client: Client, role: str) -> None:
    _member(client, role)
    assert client.get(reverse(URL)).status_code == 403
    answer = _post(client, start="2025-01-01", end="2025-01-31")
    assert answer.status_code == 403
    assert not AccessLogEntry.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start": "2025-02-01", "end": "2025-01-31"}, "must end on or after its first day"),
        ({"start": "2024-01-01", "end": "2025-01-01"}, "at most 366 days"),
        ({"start": "2025-01-01", "end": "2025-01-31", "jurisdiction": "XX"}, "valid choice"),
        ({"start": "2025-02-01", "end": "2025-01-31", "jurisdiction": "XX"}, "on or after"),
        ({"start": "yesterday", "end": "2025-01-31"}, "Enter a valid date"),
        ({"end": "2025-01-31"}, "This field is required"),
    ],
)
def test_bad_input_shows_the_form_again_and_logs_nothing(
    client: Client, data: dict[str, str], message: str
) -> None:
    _member(client, "Compliance officer")
    response = _post(client, **data)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode()
    assert b"Please correct the errors below." in response.content
    assert not AccessLogEntry.objects.exists()


def test_a_full_leap_year_is_allowed() -> None:
    reports.check_report_request(
        start=datetime.date(2024, 1, 1), end=datetime.date(2024, 12, 31), jurisdiction=None
    )
    with pytest.raises(reports.InvalidInput):
        reports.check_report_request(
            start=datetime.date(2024, 1, 1), end=datetime.date(2025, 1, 1), jurisdiction=None
        )
