"""Reads of datasets and releases for the public pages and the API."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q, QuerySet
from django.utils import timezone

from datasetcards.cards import render as cards
from datasetcards.models import Dataset, License, Release, ReleaseStatus
from registry.errors import NotFound, RegistryError

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


class ReleaseNotBuilt(NotFound):
    """A release of mine that is still building, or whose build failed: it has no
    manifest and no card yet (only its own licensee learns that it exists)."""

    code = "release_not_built"


class LicenseNotInForce(RegistryError):
    """A release of mine whose every license has ended or not begun: its files are not
    mine to download now (its listing and errata stay visible)."""

    code = "license_not_in_force"
    status = 403


def get_built_release_for_licensee(*, licensee_id: int, public_id: UUID | str) -> Release:
    """A licensed release that has a manifest and cards, under a license in force today.
    Another licensee's release, or an unknown id, is NotFound alike; one of mine not
    built (yet) is ReleaseNotBuilt; one whose licenses are out of term, LicenseNotInForce."""
    release = (
        Release.objects.filter(licenses__licensee_id=licensee_id, public_id=public_id)
        .select_related("dataset")
        .first()
    )
    if release is None:
        raise NotFound("no such release")
    if release.status not in PUBLISHED:
        raise ReleaseNotBuilt(f"release {release.version} is {release.status}: not built")
    in_force = release.licenses.filter(licensee_id=licensee_id).filter(
        _in_force(timezone.now().date())
    )
    if not in_force.exists():
        raise LicenseNotInForce(
            f"no license of yours for release {release.version} is in force today"
        )
    return release


def _in_force(today: datetime.date) -> ExpressionWrapper:
    return ExpressionWrapper(
        Q(starts_on__lte=today) & (Q(ends_on__isnull=True) | Q(ends_on__gt=today)),
        output_field=BooleanField(),
    )


def licensed_datasets(*, licensee_id: int) -> QuerySet[Dataset]:
    """Datasets a licensee holds (or held) any license on, each with that licensee's
    licenses (``my_licenses``, newest term first, ``in_force`` today) and its built
    licensed releases (``my_releases``, newest first): three queries for any page."""
    licenses = (
        License.objects.filter(licensee_id=licensee_id)
        .annotate(in_force=_in_force(timezone.now().date()))
        .order_by("-starts_on", "-id")
    )
    releases = (
        Release.objects.filter(status__in=PUBLISHED, licenses__licensee_id=licensee_id)
        .distinct()
        .order_by("-built_at", "-id")
    )
    return (
        Dataset.objects.filter(licenses__licensee_id=licensee_id)
        .distinct()
        .prefetch_related(
            Prefetch("licenses", queryset=licenses, to_attr="my_licenses"),
            Prefetch("releases", queryset=releases, to_attr="my_releases"),
        )
        .order_by("slug")
    )


def get_dataset_for_licensee(*, licensee_id: int, public_id: UUID | str) -> Dataset:
    """One dataset the licensee holds a license on; any other (or unknown) is NotFound."""
    dataset = licensed_datasets(licensee_id=licensee_id).filter(public_id=public_id).first()
    if dataset is None:
        raise NotFound("no such dataset")
    return dataset


@dataclass(frozen=True)
class CardFile:
    filename: str
    content_type: str
    body: bytes


CARD_FILES = (*cards.RENDERINGS, "card.sig")


def card_file(*, release: Release, filename: str) -> CardFile:
    """A rendering of the release's card as the public URL serves it, byte for byte
    (the same renderer; ``card.sig`` encoded as the public view's JsonResponse does)."""
    if filename == "card.sig":
        body = json.dumps(cards.signatures(release), cls=DjangoJSONEncoder, indent=2).encode()
        return CardFile(filename, "application/json", body)
    item = cards.rendering(release, filename)
    return CardFile(filename, item.content_type, item.body)
