"""Every figure a card shows, computed by SQL aggregates over a release's frozen items
(at build time, then stored on the release): no Python loop over rows, so it takes the
same handful of queries for ten recordings or three million."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q

from compensation.models import RatePlan
from consent.eligibility import CoverageGroup, coverage_groups, valid_consents
from consent.models import Consent, Purpose
from datasetcards.models import Release, ReleaseItem
from registry.models import Recording

MS_PER_HOUR = Decimal(3_600_000)


def _hours(milliseconds: int | None) -> float:
    return float(round(Decimal(milliseconds or 0) / MS_PER_HOUR, 3))


SNAPSHOT_FIELDS = (
    "slug",
    "name",
    "description",
    "purpose_statement",
    "intended_purposes",
    "license_spdx",
    "license_name",
    "license_url",
    "commercial_redistribution",
    "phase_fit",
    "collection_ongoing",
    "owner",
    "redress_contact",
    "ip_status",
    "contains_trademarks",
    "contains_patented_material",
    "ip_notes",
    "acquisition",
    "processing_description",
    "synthetic_data_used",
)


def dataset_snapshot(release: Release) -> dict[str, Any]:
    """The dataset's descriptive facts as they stood at build: a later edit of the
    dataset never rewrites the card of a release already published."""
    dataset = release.dataset
    snapshot = {name: getattr(dataset, name) for name in SNAPSHOT_FIELDS}
    snapshot["id"] = str(dataset.public_id)
    snapshot["first_used_in_training_on"] = (
        dataset.first_used_in_training_on.isoformat() if dataset.first_used_in_training_on else None
    )
    return snapshot


def release_figures(release: Release) -> dict[str, Any]:
    """The card's figures for ``release`` (its items must be written): one grouped pass
    over its tracks gives every count, duration, period and the consent coverage of
    each purpose (``consent.eligibility.coverage_groups``); distinct speakers, the
    consent regimes and the rate plans take one query each."""
    items = ReleaseItem.objects.filter(release=release)
    tracks_sql, tracks_params = items.values("track_id", "recording_id").query.sql_with_params()
    groups = coverage_groups(tracks_sql, list(tracks_params), at=release.as_of)
    n_recordings = sum(g.recordings for g in groups)
    coverage = {
        p: round(sum(g.covered[p] for g in groups) / n_recordings, 4) if n_recordings else 0.0
        for p in Purpose.values
    }
    # Exact, not rounded: a use is advertised as allowed only when this is true.
    complete = {
        p: n_recordings > 0 and sum(g.covered[p] for g in groups) == n_recordings
        for p in Purpose.values
    }
    channels: dict[str, int] = {}
    for g in groups:
        key = str(g.key["channel_count"])
        channels[key] = channels.get(key, 0) + g.recordings
    firsts = [g.first_recorded_at for g in groups if g.first_recorded_at]
    lasts = [g.last_recorded_at for g in groups if g.last_recorded_at]
    isolated = sum(g.recordings for g in groups if g.key["isolated_at_source"])
    speakers = items.aggregate(n=Count("track__speaker", distinct=True))["n"] or 0
    return {
        "recordings": n_recordings,
        "tracks": sum(g.tracks for g in groups),
        "distinct_speakers": speakers,
        "hours": _hours(sum(g.duration_ms for g in groups)),
        "speaker_hours": _hours(sum(g.speaker_ms for g in groups)),
        # One speaker per channel (a database invariant), so speakers per session and
        # channels per recording are the same distribution.
        "channels_per_recording": dict(sorted(channels.items(), key=lambda kv: int(kv[0]))),
        "speakers_per_session": dict(sorted(channels.items(), key=lambda kv: int(kv[0]))),
        "isolated_at_source_share": round(isolated / n_recordings, 4) if n_recordings else 0.0,
        "languages": _breakdown(groups, "language", order_by_hours=True),
        "sample_rates": _breakdown(groups, "sample_rate_hz"),
        "jurisdictions": _breakdown(groups, "jurisdiction"),
        "collection_period": {
            "first_recorded_at": _iso(min(firsts) if firsts else None),
            "last_recorded_at": _iso(max(lasts) if lasts else None),
        },
        "consent_coverage": coverage,
        "consent_complete": complete,
        "consent_regimes": _regimes(release),
        "compensation": _compensation(items),
    }


def _breakdown(
    groups: list[CoverageGroup], column: str, *, order_by_hours: bool = False
) -> list[dict[str, Any]]:
    """Recordings and hours per value of one column, summed over the groups (by hours,
    longest first, or by value)."""
    counts: dict[Any, list[int]] = {}
    for g in groups:
        entry = counts.setdefault(g.key[column], [0, 0])
        entry[0] += g.recordings
        entry[1] += g.duration_ms
    order = sorted(
        counts.items(),
        key=(lambda kv: (-kv[1][1], kv[0])) if order_by_hours else (lambda kv: kv[0]),
    )
    return [{column: value, "recordings": n, "hours": _hours(ms)} for value, (n, ms) in order]


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _regimes(release: Release) -> list[dict[str, Any]]:
    """Which notice versions, in which jurisdictions and languages, the release's
    speakers consented under, for recording and the dataset's purposes."""
    purposes = sorted({Purpose.RECORDING, *release.dataset.intended_purposes})
    items = ReleaseItem.objects.filter(release=release)
    # The consents that actually cover the release's recordings at as_of: valid then,
    # for all recordings or scoped to the session of one of these recordings.
    covering = Consent.objects.none()
    for purpose in purposes:
        covering = covering | valid_consents(purpose=purpose, at=release.as_of)
    rows = (
        covering.filter(speaker__in=items.values("track__speaker"))
        .filter(Q(session__isnull=True) | Q(recording__in=items.values("recording_id")))
        .values(
            "purpose",
            "notice__jurisdiction_id",
            "notice__language",
            "notice__version",
            "notice__text_sha256",
        )
        .annotate(speakers=Count("speaker", distinct=True))
        .order_by("purpose", "notice__jurisdiction_id", "notice__language", "notice__version")
    )
    return [
        {
            "purpose": row["purpose"],
            "jurisdiction": row["notice__jurisdiction_id"],
            "language": row["notice__language"],
            "notice_version": row["notice__version"],
            "notice_sha256": row["notice__text_sha256"],
            "speakers": row["speakers"],
        }
        for row in rows
    ]


def _compensation(items: Any) -> dict[str, Any]:
    plans = (
        RatePlan.objects.filter(
            campaign__in=Recording.objects.filter(
                pk__in=items.values("recording_id"), campaign__isnull=False
            )
            .values("campaign_id")
            .distinct()
        )
        .values("campaign__slug", "currency", "amount_per_hour", "effective_from")
        .distinct()
        .order_by("campaign__slug", "effective_from")
    )
    return {
        "basis": "per recorded speaker-hour",
        "rate_plans": [
            {
                "campaign": row["campaign__slug"],
                "currency": row["currency"],
                "amount_per_hour": str(row["amount_per_hour"]),
                "effective_from": row["effective_from"].isoformat(),
            }
            for row in plans
        ],
    }
