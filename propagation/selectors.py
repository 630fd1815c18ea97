"""Reads of propagation progress (speaker portal, staff) and of what a licensee may see
of it through the API: its webhooks, its notices and their attempts, its models.
Every licensee read is restricted to the licensee's own rows; another licensee's object
is NotFound exactly like an unknown id."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Count, F, Min, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from datasetcards.models import Release
from datasetcards.selectors import licensed_releases
from propagation.models import (
    REACHED_STATUSES,
    DeliveryAttempt,
    ModelStatusReport,
    Propagation,
    PropagationTarget,
    TargetKind,
    TargetStatus,
    WebhookEndpoint,
)
from registry.errors import InvalidInput, NotFound
from registry.models import DerivedModel, Speaker

# Delivered, not acknowledged, and past its acknowledgement deadline (flagged by the
# beat job ``flag_overdue_acknowledgements``): the dashboard, the alert digest and the
# compliance report all count these.
OVERDUE_ACK = Q(status=TargetStatus.DELIVERED, ack_overdue_at__isnull=False)


@dataclass(frozen=True)
class Progress:
    """How far one withdrawal (or erasure) has travelled."""

    total: int = 0
    reached: int = 0  # delivered or acknowledged
    acknowledged: int = 0
    retrying: int = 0  # failed, retried with backoff
    dead: int = 0  # retries exhausted: waiting for staff
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind: (reached, total)

    @property
    def done(self) -> bool:
        return self.total == self.reached


def progress_by_outbox(outbox_ids: Iterable[int]) -> dict[int, Progress]:
    """Progress per outbox row, in one grouped query."""
    rows = (
        PropagationTarget.objects.filter(propagation__outbox_id__in=list(outbox_ids))
        .values("propagation__outbox_id", "kind")
        .annotate(
            total=Count("id"),
            reached=Count("id", filter=Q(status__in=REACHED_STATUSES)),
            acknowledged=Count("id", filter=Q(status=TargetStatus.ACKNOWLEDGED)),
            retrying=Count("id", filter=Q(status=TargetStatus.FAILED)),
            dead=Count("id", filter=Q(status=TargetStatus.DEAD)),
        )
        .order_by()
    )
    sums: dict[int, dict[str, int]] = {}
    kinds: dict[int, dict[str, tuple[int, int]]] = {}
    for row in rows:
        outbox = row["propagation__outbox_id"]
        total = sums.setdefault(
            outbox, {"total": 0, "reached": 0, "acknowledged": 0, "retrying": 0, "dead": 0}
        )
        total["total"] += row["total"]
        total["reached"] += row["reached"]
        total["acknowledged"] += row["acknowledged"]
        total["retrying"] += row["retrying"]
        total["dead"] += row["dead"]
        kinds.setdefault(outbox, {})[TargetKind(row["kind"]).value] = (row["reached"], row["total"])
    return {
        outbox: Progress(**values, by_kind=kinds.get(outbox, {})) for outbox, values in sums.items()
    }


# --- a licensee's webhooks, notices and models ------------------------------------------


def webhooks_for_licensee(*, licensee_id: int) -> QuerySet[WebhookEndpoint]:
    """Every endpoint the licensee registered, the active one and the replaced ones."""
    return WebhookEndpoint.objects.filter(licensee_id=licensee_id).order_by("-created_at", "-id")


def get_webhook_for_licensee(*, licensee_id: int, public_id: uuid.UUID) -> WebhookEndpoint:
    """One of the licensee's endpoints; anyone else's is NotFound like an unknown id."""
    endpoint = webhooks_for_licensee(licensee_id=licensee_id).filter(public_id=public_id).first()
    if endpoint is None:
        raise NotFound("no such webhook")
    return endpoint


def _notices_of(licensee_id: int) -> Q:
    return Q(kind=TargetKind.LICENSE, license__licensee_id=licensee_id) | Q(
        kind=TargetKind.DERIVED_MODEL, derived_model__licensee_id=licensee_id
    )


def deliveries_for_licensee(
    *, licensee_id: int, status: str | None = None, kind: str | None = None
) -> QuerySet[PropagationTarget]:
    """The withdrawal notices sent (or being sent) to the licensee: one per license and
    per derived model a withdrawal reached, each with its latest attempt as
    ``last_attempts`` (a list of at most one), in a fixed number of queries a page;
    optionally only those in ``status`` or of ``kind``."""
    latest = (
        DeliveryAttempt.objects.order_by("target_id", "-started_at", "-id")
        .distinct("target_id")
        .only("target_id", "number", "started_at", "latency_ms", "outcome", "status_code", "error")
    )
    notices = PropagationTarget.objects.filter(_notices_of(licensee_id))
    if status:
        notices = notices.filter(status=status)
    if kind:
        notices = notices.filter(kind=kind)
    return (
        notices.select_related("propagation", "license", "derived_model")
        .prefetch_related(Prefetch("delivery_attempts", queryset=latest, to_attr="last_attempts"))
        .order_by("-created_at", "-id")
    )


def get_delivery_for_licensee(*, licensee_id: int, key: uuid.UUID) -> PropagationTarget:
    """One notice of the licensee by its id (the notice's ``id`` and Idempotency-Key),
    with every attempt as ``all_attempts``; anyone else's is NotFound."""
    attempts = DeliveryAttempt.objects.order_by("started_at", "id")
    target = (
        PropagationTarget.objects.filter(_notices_of(licensee_id), idempotency_key=key)
        .select_related("propagation", "license", "derived_model")
        .prefetch_related(Prefetch("delivery_attempts", queryset=attempts, to_attr="all_attempts"))
        .first()
    )
    if target is None:
        raise NotFound("no such delivery")
    return target


def models_for_licensee(*, licensee_id: int) -> QuerySet[DerivedModel]:
    """The licensee's derived models, each with the releases it was declared on."""
    releases = Release.objects.select_related("dataset").order_by("dataset__slug", "version")
    return (
        DerivedModel.objects.filter(licensee_id=licensee_id)
        .prefetch_related(Prefetch("training_releases", queryset=releases))
        .order_by("-created_at", "-id")
    )


def get_model_for_licensee(*, licensee_id: int, public_id: uuid.UUID) -> DerivedModel:
    """One of the licensee's models; anyone else's is NotFound like an unknown id."""
    model = models_for_licensee(licensee_id=licensee_id).filter(public_id=public_id).first()
    if model is None:
        raise NotFound("no such model")
    return model


def pending_model_notices(*, model: DerivedModel) -> list[PropagationTarget]:
    """The model's withdrawal notices not acknowledged yet, oldest first."""
    return list(
        PropagationTarget.objects.filter(kind=TargetKind.DERIVED_MODEL, derived_model=model)
        .exclude(status=TargetStatus.ACKNOWLEDGED)
        .select_related("propagation")
        .order_by("created_at", "id")
    )


def latest_model_report(*, model: DerivedModel) -> ModelStatusReport | None:
    return ModelStatusReport.objects.filter(derived_model=model).order_by("-reported_at").first()


RELEASES_NOT_LICENSED = "every release must be one licensed to you (unknown ids are refused alike)"


def licensed_releases_by_id(*, licensee_id: int, public_ids: Sequence[uuid.UUID]) -> list[Release]:
    """The releases named by ``public_ids``, all licensed to the licensee; otherwise
    InvalidInput on ``releases`` whose message is the same whether an id is unknown or
    another licensee's, so ids cannot be probed."""
    wanted = set(public_ids)
    found = list(licensed_releases(licensee_id=licensee_id).filter(public_id__in=wanted))
    if not wanted or {r.public_id for r in found} != wanted:
        raise InvalidInput(RELEASES_NOT_LICENSED, field="releases")
    return found


# --- For compliance staff: each withdrawal of one speaker and how far it went ---------


def speaker_propagations(*, speaker: Speaker) -> QuerySet[Propagation]:
    """Every withdrawal, expiry and erasure of the speaker that propagation planned."""
    return (
        Propagation.objects.filter(speaker_id=speaker.pk)
        .select_related("outbox", "outbox__event", "session", "erasure_request")
        .order_by("-created_at")
    )


@dataclass(frozen=True)
class DeadTarget:
    """A target whose retries ran out: it waits for staff (the admin's retry)."""

    id: uuid.UUID  # the target's idempotency key, also sent with every webhook
    kind: str
    object_id: uuid.UUID | None  # release, license, model, track or voiceprint; None: PII
    attempts: int
    died_at: datetime.datetime | None
    last_error: str


@dataclass(frozen=True)
class PropagationReport:
    """One withdrawal (or expiry, or erasure) and how far it has travelled."""

    propagation: Propagation
    progress: Progress
    by_status: dict[str, int] = field(default_factory=dict)
    # Creation time of the oldest target not yet reached (not delivered or acknowledged).
    oldest_pending_at: datetime.datetime | None = None
    pending_age_seconds: int | None = None
    dead_targets: list[DeadTarget] = field(default_factory=list)


def propagation_reports(propagations: Sequence[Propagation]) -> list[PropagationReport]:
    """Progress of each propagation (``propagation.selectors.progress_by_outbox``), its
    targets per status, the age of its oldest unreached target and its dead targets: three
    grouped queries whatever the number of propagations or targets."""
    now = timezone.now()
    ids = [p.pk for p in propagations]
    progress = progress_by_outbox(p.outbox_id for p in propagations)
    by_status: dict[int, dict[str, int]] = {}
    oldest: dict[int, datetime.datetime] = {}
    grouped = (
        PropagationTarget.objects.filter(propagation_id__in=ids)
        .values("propagation_id", "status")
        .annotate(n=Count("id"), since=Min("created_at"))
        .order_by()
    )
    for row in grouped:
        owner = row["propagation_id"]
        by_status.setdefault(owner, {})[row["status"]] = row["n"]
        if row["status"] not in REACHED_STATUSES and (
            owner not in oldest or row["since"] < oldest[owner]
        ):
            oldest[owner] = row["since"]
    dead: dict[int, list[DeadTarget]] = {}
    dead_rows = (
        PropagationTarget.objects.filter(propagation_id__in=ids, status=TargetStatus.DEAD)
        .annotate(
            object_id=Coalesce(
                F("release__public_id"),
                F("license__public_id"),
                F("derived_model__public_id"),
                F("track__public_id"),
                F("voiceprint__public_id"),
            )
        )
        .values_list(
            "propagation_id",
            "idempotency_key",
            "kind",
            "object_id",
            "attempts",
            "died_at",
            "last_error",
        )
        .order_by("propagation_id", "id")
    )
    for owner, key, kind, object_id, attempts, died_at, last_error in dead_rows:
        dead.setdefault(owner, []).append(
            DeadTarget(key, kind, object_id, attempts, died_at, last_error)
        )
    return [
        PropagationReport(
            propagation=p,
            progress=progress.get(p.outbox_id, Progress()),
            by_status=by_status.get(p.pk, {}),
            oldest_pending_at=oldest.get(p.pk),
            pending_age_seconds=(
                int((now - oldest[p.pk]).total_seconds()) if p.pk in oldest else None
            ),
            dead_targets=dead.get(p.pk, []),
        )
        for p in propagations
    ]


@dataclass(frozen=True)
class Backlog:
    """What the propagation dashboard leads with: how much is not reached yet, and the
    oldest of it."""

    not_reached: int
    failed: int
    dead: int
    overdue: int
    oldest: PropagationTarget | None
    oldest_age: datetime.timedelta | None


def propagation_backlog(*, now: datetime.datetime | None = None) -> Backlog:
    """Counts of targets not yet reached (by failed, dead) and of overdue
    acknowledgements, and the oldest unreached target: two queries."""
    now = now or timezone.now()
    unreached = PropagationTarget.objects.exclude(status__in=REACHED_STATUSES)
    counts = PropagationTarget.objects.aggregate(
        not_reached=Count("id", filter=~Q(status__in=REACHED_STATUSES)),
        failed=Count("id", filter=Q(status=TargetStatus.FAILED)),
        dead=Count("id", filter=Q(status=TargetStatus.DEAD)),
        overdue=Count("id", filter=OVERDUE_ACK),
    )
    oldest = unreached.order_by("created_at", "id").first()
    return Backlog(
        **counts,
        oldest=oldest,
        oldest_age=(now - oldest.created_at) if oldest else None,
    )
