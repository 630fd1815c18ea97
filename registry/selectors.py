"""Reads of the catalogue that are more than a one-line query."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Sum

from registry import pii
from registry.models import Licensee, Recording, Speaker, WorkerHeartbeat


def age_on(date_of_birth: datetime.date, day: datetime.date) -> int:
    """Completed years of age on ``day``."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - int(before_birthday)


def get_speaker_by_email(*, email: str) -> Speaker | None:
    """Exact, normalised email lookup through the blind index (the column is encrypted)."""
    return Speaker.objects.filter(email_blind_index=pii.email_blind_index(email)).first()


@dataclass(frozen=True)
class CatalogueSummary:
    speakers: int
    recordings: int
    hours: float
    licensees: int
    jurisdictions: dict[str, int]


def catalogue_summary() -> CatalogueSummary:
    """Counts for the home page: three aggregate queries, no per-row work."""
    recordings = Recording.objects.aggregate(n=Count("id"), ms=Sum("duration_ms"))
    by_jurisdiction = dict(
        Speaker.objects.values_list("jurisdiction")
        .annotate(n=Count("id"))
        .order_by("jurisdiction")
        .values_list("jurisdiction", "n")
    )
    return CatalogueSummary(
        speakers=sum(by_jurisdiction.values()),
        recordings=recordings["n"],
        hours=(recordings["ms"] or 0) / 3_600_000,
        licensees=Licensee.objects.count(),
        jurisdictions=by_jurisdiction,
    )


def latest_worker_heartbeat() -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.order_by("-beat_at").first()
