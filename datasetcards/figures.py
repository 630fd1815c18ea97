"""Every figure a card shows, computed by SQL aggregates over a release's frozen items
(at build time, then stored on the release): no Python loop over rows, so it takes the
same handful of queries for ten recordings or three million."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum

from compensation.models import RatePlan
from consent.eligibility import coverage_of, valid_consents
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
    """The card's figures for ``release`` (its items must be written)."""
    recordings = Recording.objects.filter(
        pk__in=ReleaseItem.objects.filter(release=release).values("recording_id")
    )
    items = ReleaseItem.objects.filter(release=release)
    totals = recordings.aggregate(
        recordings=Count("id"),
        duration=Sum("duration_ms"),
        isolated=Count("id", filter=Q(isolated_at_source=True)),
        first=Min("recorded_at"),
        last=Max("recorded_at"),
    )
    track_totals = items.aggregate(
        tracks=Count("id"),
        speakers=Count("track__speaker", distinct=True),
        speaker_ms=Sum("recording__duration_ms"),
    )
    n_recordings = totals["recordings"] or 0
    coverage, complete = _coverage(release, recordings)
    channels = {
        str(row["channel_count"]): row["n"]
        for row in recordings.values("channel_count").annotate(n=Count("id")).order_by()
    }
    languages = [
        {"language": row["language"], "recordings": row["n"], "hours": _hours(row["ms"])}
        for row in recordings.values("language")
        .annotate(n=Count("id"), ms=Sum("duration_ms"))
        .order_by("-ms", "language")
    ]
    sample_rates = [
        {
            "sample_rate_hz": row["sample_rate_hz"],
            "recordings": row["n"],
            "hours": _hours(row["ms"]),
        }
        for row in recordings.values("sample_rate_hz")
        .annotate(n=Count("id"), ms=Sum("duration_ms"))
        .order_by("sample_rate_hz")
    ]
    jurisdictions = [
        {"jurisdiction": row["jurisdiction"], "recordings": row["n"], "hours": _hours(row["ms"])}
        for row in recordings.values("jurisdiction")
        .annotate(n=Count("id"), ms=Sum("duration_ms"))
        .order_by("jurisdiction")
    ]
    return {
        "recordings": n_recordings,
        "tracks": track_totals["tracks"] or 0,
        "distinct_speakers": track_totals["speakers"] or 0,
        "hours": _hours(totals["duration"]),
        "speaker_hours": _hours(track_totals["speaker_ms"]),
        # One speaker per channel (a database invariant), so speakers per session and
        # channels per recording are the same distribution.
        "channels_per_recording": channels,
        "speakers_per_session": channels,
        "isolated_at_source_share": round(totals["isolated"] / n_recordings, 4)
        if n_recordings
        else 0.0,
        "languages": languages,
        "sample_rates": sample_rates,
        "jurisdictions": jurisdictions,
        "collection_period": {
            "first_recorded_at": _iso(totals["first"]),
            "last_recorded_at": _iso(totals["last"]),
        },
        "consent_coverage": coverage,
        # Exact, not rounded: a use is advertised as allowed only when this is true.
        "consent_complete": complete,
        "consent_regimes": _regimes(release),
        "compensation": _compensation(recordings),
    }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _coverage(release: Release, recordings: Any) -> tuple[dict[str, float], dict[str, bool]]:
    """Share of the release's recordings every participant's consent covers, per
    purpose, at the release's ``as_of`` (its own purposes are 1.0 by construction), and
    whether that share is exactly all of them. One pass over the release's tracks."""
    counted = coverage_of(recordings, at=release.as_of)
    coverage = {purpose: counted.share(purpose) for purpose in Purpose.values}
    complete = {purpose: counted.complete(purpose) for purpose in Purpose.values}
    return coverage, complete


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


def _compensation(recordings: Any) -> dict[str, Any]:
    plans = (
        RatePlan.objects.filter(campaign__recordings__in=recordings.values("pk"))
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
