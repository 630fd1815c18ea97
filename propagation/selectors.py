"""Reads of propagation progress, for the speaker portal and staff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Q

from propagation.models import REACHED_STATUSES, PropagationTarget, TargetKind, TargetStatus


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
