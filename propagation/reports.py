"""The compliance report of a period: every figure it shows, read here and nowhere else
(``propagation.report_pdf`` only lays them out), so the PDF and its tests agree.

It lives in propagation because it reads every layer (consent events and rules,
datasets and releases, propagation targets) and only propagation may import them all.
Each figure reuses the definition its own module owns: eligibility and coverage from
``consent.eligibility``, rules in force as ``consent.rules`` selects them, overdue
acknowledgements as the propagation backlog counts them. Ids and counts only: no
personal data."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Aggregate,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from consent.eligibility import coverage_groups
from consent.models import (
    AuditCheckpoint,
    ChainVerification,
    ConsentAction,
    ConsentEvent,
    Jurisdiction,
    JurisdictionRule,
    Purpose,
    VerificationStatus,
)
from consent.rules import jurisdiction_chain
from datasetcards.models import Dataset, Release, ReleaseItem
from datasetcards.selectors import PUBLISHED
from propagation.models import PropagationTarget, TargetKind, TargetStatus
from propagation.selectors import OVERDUE_ACK
from registry.errors import InvalidInput

# Long enough for a yearly report, the same bound as the staff API's event export.
MAX_REPORT_DAYS = 366
# The overdue table lists this many targets (the oldest first); the count is complete.
OVERDUE_LISTED = 50
REPORTED_ACTIONS = (
    ConsentAction.GIVE,
    ConsentAction.RENEW,
    ConsentAction.WITHDRAW,
    ConsentAction.EXPIRE,
)
FINISHED_VERIFICATIONS = (
    VerificationStatus.OK,
    VerificationStatus.BROKEN,
    VerificationStatus.FAILED,
)


# --- The period and the jurisdiction ---------------------------------------------------


def check_report_request(
    *, start: datetime.date, end: datetime.date, jurisdiction: str | None
) -> None:
    """Refuse a period that ends before it starts or spans more than MAX_REPORT_DAYS
    days (both ends count), and a jurisdiction with no rules defined (InvalidInput)."""
    if end < start:
        raise InvalidInput("the period must end on or after its first day", field="end")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise InvalidInput(f"a period of at most {MAX_REPORT_DAYS} days", field="end")
    if jurisdiction and not Jurisdiction.objects.filter(code=jurisdiction).exists():
        raise InvalidInput(f"unknown jurisdiction {jurisdiction!r}", field="jurisdiction")


def jurisdictions_under(code: str) -> tuple[str, ...]:
    """The jurisdiction and every one below it (EU → DE, FR), sorted."""
    parents = dict(Jurisdiction.objects.values_list("code", "parent_id"))
    found = {code}
    grew = True
    while grew:
        below = {child for child, parent in parents.items() if parent in found}
        grew = not below <= found
        found |= below
    return tuple(sorted(found))


def _in_scope(column: str, codes: tuple[str, ...] | None) -> Q:
    """Rows whose jurisdiction is one of ``codes``, or a subdivision of one we have no
    row for (US-WA counts under US: ``consent.rules.jurisdiction_chain`` falls back to
    the country in the same way). No codes: every row."""
    if codes is None:
        return Q()
    condition = Q(**{f"{column}__in": codes})
    for code in codes:
        condition |= Q(**{f"{column}__startswith": f"{code}-"})
    return condition


# --- The figures ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentActs:
    """Consent events of one jurisdiction (the speaker's at the time) and purpose."""

    jurisdiction: str
    purpose: str
    given: int = 0
    renewed: int = 0
    withdrawn: int = 0
    expired: int = 0


@dataclass(frozen=True)
class PropagationTimes:
    """Targets of one kind (or all, ``kind`` empty) planned for withdrawals that took
    effect in the period, and how long those done took from the withdrawal."""

    kind: str
    targets: int
    done: int
    median: datetime.timedelta | None
    p95: datetime.timedelta | None

    @property
    def not_done(self) -> int:
        return self.targets - self.done


@dataclass(frozen=True)
class OverdueTarget:
    """A notice delivered and not acknowledged by its deadline."""

    id: Any  # the target's idempotency key (UUID), also sent with every webhook
    kind: str
    licensee: str
    delivered_at: datetime.datetime | None
    ack_due_at: datetime.datetime | None
    flagged_at: datetime.datetime | None


@dataclass(frozen=True)
class RuleInForce:
    jurisdiction: str
    purpose: str  # empty: every purpose
    effective_from: datetime.date
    effective_to: datetime.date | None
    citation: str
    summary: str


@dataclass(frozen=True)
class DatasetCoverage:
    """How much of a dataset's latest release its speakers' consent still covers."""

    slug: str
    name: str
    intended_purposes: tuple[str, ...]
    release: str | None  # version; None: no release built by the end of the period
    release_as_of: datetime.datetime | None
    recordings: int
    covered: dict[str, int] = field(default_factory=dict)

    def share(self, purpose: str) -> float:
        return self.covered.get(purpose, 0) / self.recordings if self.recordings else 0.0


@dataclass(frozen=True)
class ComplianceReport:
    start: datetime.date  # first day
    end: datetime.date  # last day (included)
    jurisdiction: str | None
    scope: tuple[str, ...] | None  # the jurisdictions counted; None: all
    generated_at: datetime.datetime
    measured_at: datetime.datetime  # coverage is decided at this moment
    acts: list[ConsentActs]
    acts_total: ConsentActs
    propagation: list[PropagationTimes]
    propagation_total: PropagationTimes
    overdue_now: int
    overdue_listed: list[OverdueTarget]
    flagged_overdue_in_period: int
    rules: list[RuleInForce]
    verification: ChainVerification | None
    checkpoint: AuditCheckpoint | None
    coverage: list[DatasetCoverage]

    @property
    def period_start(self) -> datetime.datetime:
        return _midnight(self.start)

    @property
    def period_end(self) -> datetime.datetime:
        """The first moment after the period (exclusive)."""
        return _midnight(self.end + datetime.timedelta(days=1))


def _midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def compliance_report(
    *,
    start: datetime.date,
    end: datetime.date,
    jurisdiction: str | None = None,
    now: datetime.datetime | None = None,
) -> ComplianceReport:
    """Every figure of the compliance report for the days ``start`` to ``end`` (both
    included, UTC), optionally of one jurisdiction and those under it."""
    check_report_request(start=start, end=end, jurisdiction=jurisdiction)
    now = now or timezone.now()
    scope = jurisdictions_under(jurisdiction) if jurisdiction else None
    begins, ends = _midnight(start), _midnight(end + datetime.timedelta(days=1))
    acts = consent_acts(begins=begins, ends=ends, scope=scope)
    times, total_times = propagation_times(begins=begins, ends=ends, scope=scope)
    overdue = overdue_acknowledgements(scope=scope)
    measured_at = min(ends, now)
    return ComplianceReport(
        start=start,
        end=end,
        jurisdiction=jurisdiction or None,
        scope=scope,
        generated_at=now,
        measured_at=measured_at,
        acts=acts,
        acts_total=ConsentActs(
            jurisdiction="",
            purpose="",
            given=sum(a.given for a in acts),
            renewed=sum(a.renewed for a in acts),
            withdrawn=sum(a.withdrawn for a in acts),
            expired=sum(a.expired for a in acts),
        ),
        propagation=times,
        propagation_total=total_times,
        overdue_now=overdue.count(),
        overdue_listed=_overdue_rows(overdue[:OVERDUE_LISTED]),
        flagged_overdue_in_period=PropagationTarget.objects.filter(
            _target_scope(scope), ack_overdue_at__gte=begins, ack_overdue_at__lt=ends
        ).count(),
        rules=rules_in_force_during(
            begins=start, ends=end + datetime.timedelta(days=1), jurisdiction=jurisdiction
        ),
        verification=ChainVerification.objects.filter(status__in=FINISHED_VERIFICATIONS)
        .order_by("-requested_at", "-id")
        .first(),
        checkpoint=AuditCheckpoint.objects.order_by("-created_at", "-seq").first(),
        coverage=dataset_coverage(before=ends, at=measured_at, scope=scope),
    )


def consent_acts(
    *, begins: datetime.datetime, ends: datetime.datetime, scope: tuple[str, ...] | None
) -> list[ConsentActs]:
    """Grants, renewals, withdrawals and expiries that occurred in [begins, ends) per
    jurisdiction and purpose: one grouped query."""
    rows = (
        ConsentEvent.objects.filter(
            _in_scope("jurisdiction", scope),
            occurred_at__gte=begins,
            occurred_at__lt=ends,
            action__in=REPORTED_ACTIONS,
        )
        .values("jurisdiction", "purpose")
        .annotate(
            given=Count("id", filter=Q(action=ConsentAction.GIVE)),
            renewed=Count("id", filter=Q(action=ConsentAction.RENEW)),
            withdrawn=Count("id", filter=Q(action=ConsentAction.WITHDRAW)),
            expired=Count("id", filter=Q(action=ConsentAction.EXPIRE)),
        )
        .order_by("jurisdiction", "purpose")
    )
    order = {purpose: index for index, purpose in enumerate(Purpose.values)}
    acts = [ConsentActs(**row) for row in rows]
    return sorted(acts, key=lambda a: (a.jurisdiction, order.get(a.purpose, len(order))))


class _Percentile(Aggregate):
    """PostgreSQL's continuous percentile (interpolated, like numpy's default)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("a fraction between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _target_scope(scope: tuple[str, ...] | None) -> Q:
    # A withdrawal's jurisdiction is its event's (the speaker's at the time); an
    # erasure has no event, so the speaker's.
    if scope is None:
        return Q()
    return Q(pk__in=_scoped_targets(scope))


def _scoped_targets(scope: tuple[str, ...]) -> QuerySet[Any]:
    return (
        PropagationTarget.objects.annotate(
            place=Coalesce(
                F("propagation__outbox__event__jurisdiction"),
                F("propagation__speaker__jurisdiction"),
                output_field=CharField(),
            )
        )
        .filter(_in_scope("place", scope))
        .values("pk")
    )


def propagation_times(
    *, begins: datetime.datetime, ends: datetime.datetime, scope: tuple[str, ...] | None
) -> tuple[list[PropagationTimes], PropagationTimes]:
    """Per target kind and for all: targets of the withdrawals, expiries and erasures
    that took effect in [begins, ends), how many reached their final state
    (acknowledged: done by us, or confirmed by the licensee), and the median and 95th
    percentile of the time from the withdrawal taking effect (``effective_at``: when
    the registry recorded it) to that acknowledgement. Targets not done are counted,
    not timed."""
    took = ExpressionWrapper(
        F("acknowledged_at") - F("propagation__effective_at"), output_field=DurationField()
    )
    done = Q(status=TargetStatus.ACKNOWLEDGED)
    figures = {
        "targets": Count("id"),
        "done": Count("id", filter=done),
        "median": _Percentile(took, fraction=0.5, filter=done),
        "p95": _Percentile(took, fraction=0.95, filter=done),
    }
    targets = PropagationTarget.objects.filter(
        _target_scope(scope),
        propagation__effective_at__gte=begins,
        propagation__effective_at__lt=ends,
    )
    by_kind = {row["kind"]: row for row in targets.values("kind").annotate(**figures).order_by()}
    rows = [_times(kind, by_kind[kind]) for kind in TargetKind.values if kind in by_kind]
    return rows, _times("", targets.aggregate(**figures))


def _times(kind: str, figures: Mapping[str, Any]) -> PropagationTimes:
    return PropagationTimes(
        kind=kind,
        targets=figures["targets"],
        done=figures["done"],
        median=figures["median"],
        p95=figures["p95"],
    )


def overdue_acknowledgements(*, scope: tuple[str, ...] | None) -> QuerySet[PropagationTarget]:
    """Notices overdue for acknowledgement now: delivered, flagged by the deadline job
    (``services.flag_overdue_acknowledgements``) and still not acknowledged — the
    definition the propagation backlog (``selectors.propagation_backlog``) counts and
    the target admin's "Overdue" filter shows. Oldest deadline first."""
    return (
        PropagationTarget.objects.filter(_target_scope(scope), OVERDUE_ACK)
        .select_related("license__licensee", "derived_model__licensee")
        .order_by("ack_due_at", "id")
    )


def _overdue_rows(targets: QuerySet[PropagationTarget]) -> list[OverdueTarget]:
    rows = []
    for target in targets:
        holder = target.license or target.derived_model
        rows.append(
            OverdueTarget(
                id=target.idempotency_key,
                kind=target.kind,
                licensee=holder.licensee.name if holder is not None else "",
                delivered_at=target.delivered_at,
                ack_due_at=target.ack_due_at,
                flagged_at=target.ack_overdue_at,
            )
        )
    return rows


def rules_in_force_during(
    *, begins: datetime.date, ends: datetime.date, jurisdiction: str | None
) -> list[RuleInForce]:
    """Rules in force on at least one day of [begins, ends) (``effective_to`` is the
    first day a rule no longer applies, as ``consent.rules.rules_in_force`` reads it):
    every rule, or those that apply to someone in ``jurisdiction`` — its own, its
    parents' (``consent.rules.jurisdiction_chain``) and those under it."""
    rules = JurisdictionRule.objects.filter(effective_from__lt=ends).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=begins)
    )
    if jurisdiction:
        places = set(jurisdiction_chain(jurisdiction)) | set(jurisdictions_under(jurisdiction))
        rules = rules.filter(jurisdiction_id__in=places)
    return [
        RuleInForce(
            jurisdiction=rule.jurisdiction_id,
            purpose=rule.purpose,
            effective_from=rule.effective_from,
            effective_to=rule.effective_to,
            citation=rule.citation,
            summary=rule.summary,
        )
        for rule in rules.order_by("jurisdiction_id", "purpose", "effective_from", "id")
    ]


def dataset_coverage(
    *, before: datetime.datetime, at: datetime.datetime, scope: tuple[str, ...] | None
) -> list[DatasetCoverage]:
    """For each dataset, its latest release built before ``before`` and how many of
    that release's recordings (of ``scope``'s jurisdictions) every participant's
    consent covers for each purpose at ``at``: the dataset card's coverage
    (``consent.eligibility.coverage_groups``, held equal to ``eligible_recordings``)
    asked again later, so withdrawals since the build show."""
    result = []
    for dataset in Dataset.objects.order_by("slug"):
        release = (
            Release.objects.filter(dataset=dataset, status__in=PUBLISHED, built_at__lt=before)
            .order_by("-built_at", "-id")
            .first()
        )
        if release is None:
            result.append(
                DatasetCoverage(
                    slug=dataset.slug,
                    name=dataset.name,
                    intended_purposes=tuple(dataset.intended_purposes),
                    release=None,
                    release_as_of=None,
                    recordings=0,
                )
            )
            continue
        items = ReleaseItem.objects.filter(
            _in_scope("recording__jurisdiction", scope), release=release
        )
        sql, params = items.values("track_id", "recording_id").query.sql_with_params()
        groups = coverage_groups(sql, list(params), at=at)
        result.append(
            DatasetCoverage(
                slug=dataset.slug,
                name=dataset.name,
                intended_purposes=tuple(dataset.intended_purposes),
                release=release.version,
                release_as_of=release.as_of,
                recordings=sum(g.recordings for g in groups),
                covered={p: sum(g.covered[p] for g in groups) for p in Purpose.values},
            )
        )
    return result
