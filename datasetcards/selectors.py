"""Reads of datasets and releases for the public pages and the API."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from datasetcards.models import Dataset, Release, ReleaseStatus
from registry.errors import NotFound

PUBLISHED = (
    ReleaseStatus.CURRENT,
    ReleaseStatus.TAINTED,
    ReleaseStatus.SUPERSEDED,
    ReleaseStatus.WITHDRAWN,
)


def published_datasets() -> QuerySet[Dataset]:
    """Datasets with at least one built release, each with its built releases."""
    releases = Release.objects.filter(status__in=PUBLISHED).order_by("-built_at")
    return (
        Dataset.objects.filter(releases__status__in=PUBLISHED)
        .distinct()
        .prefetch_related(Prefetch("releases", queryset=releases, to_attr="published"))
        .order_by("name")
    )


def get_published_release(*, slug: str, version: str) -> Release:
    """A built release by its stable address; releases still building are not public."""
    release = (
        Release.objects.select_related("dataset")
        .filter(dataset__slug=slug, version=version, status__in=PUBLISHED)
        .first()
    )
    if release is None:
        raise NotFound(f"no published release {slug} {version}")
    return release


def licensed_releases(*, licensee_id: int) -> QuerySet[Release]:
    """Built releases a licensee holds through any of its licenses."""
    return (
        Release.objects.filter(status__in=PUBLISHED, licenses__licensee_id=licensee_id)
        .select_related("dataset")
        .distinct()
        .order_by("dataset__slug", "-built_at", "id")
    )


def get_release_for_licensee(*, licensee_id: int, public_id: UUID | str) -> Release:
    """One licensed release; another licensee's (or an unknown id) is NotFound alike."""
    release = licensed_releases(licensee_id=licensee_id).filter(public_id=public_id).first()
    if release is None:
        raise NotFound("no such release")
    return release
