"""Shapes of the licensee endpoints over datasets, releases and manifests (output only,
plus the manifest's query parameters)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasetcards.cards.native import release_urls
from datasetcards.models import Dataset, License, Release


def api_url(name: str, **kwargs: Any) -> str:
    return settings.PUBLIC_BASE_URL + reverse(f"api:{name}", kwargs=kwargs)


def release_api_urls(release: Release) -> dict[str, str]:
    """Where a licensee reads this release through the API (token required)."""
    ids = {"release_id": release.public_id}
    manifest = api_url("release-manifest", **ids)
    return {
        "self": api_url("release", **ids),
        "manifest": manifest,
        "manifest_csv": manifest + "?format=csv",
        "card": api_url("release-card-json", **ids),
        "croissant": api_url("release-card-jsonld", **ids),
        "readme": api_url("release-readme", **ids),
        "pdf": api_url("release-card-pdf", **ids),
        "signatures": api_url("release-card-sig", **ids),
        "rsl": api_url("release-rsl", **ids),
    }


_RELEASE_API_LINKS = serializers.DictField(
    child=serializers.URLField(),
    help_text="This release through the API (`self`, `manifest`, `manifest_csv`, `card`, "
    "`croissant`, `readme`, `pdf`, `signatures`, `rsl`).",
)
_RELEASE_PUBLIC_LINKS = serializers.DictField(
    child=serializers.URLField(),
    help_text="The release's public pages and card files, the API manifest and the "
    "withdrawal feed (as in the card's `release.links`).",
)


class ReleaseOut(serializers.ModelSerializer[Release]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    dataset = serializers.CharField(source="dataset.slug", read_only=True)
    links = serializers.SerializerMethodField()
    api = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = [
            "id",
            "dataset",
            "version",
            "status",
            "as_of",
            "built_at",
            "manifest_sha256",
            "manifest_bytes",
            "recording_count",
            "track_count",
            "links",
            "api",
        ]

    @extend_schema_field(_RELEASE_PUBLIC_LINKS)
    def get_links(self, release: Release) -> dict[str, str]:
        return release_urls(release)

    @extend_schema_field(_RELEASE_API_LINKS)
    def get_api(self, release: Release) -> dict[str, str]:
        return release_api_urls(release)


class DatasetReleaseOut(serializers.ModelSerializer[Release]):
    """One of my releases of a dataset, with where to fetch it."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    api = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["id", "version", "status", "built_at", "manifest_sha256", "track_count", "api"]

    @extend_schema_field(_RELEASE_API_LINKS)
    def get_api(self, release: Release) -> dict[str, str]:
        return release_api_urls(release)


class LicenseOut(serializers.ModelSerializer[License]):
    """What one of my licenses on the dataset allows."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    in_force = serializers.BooleanField(
        read_only=True, help_text="Today is within the term (starts_on ≤ today < ends_on)."
    )

    class Meta:
        model = License
        fields = [
            "id",
            "purposes_allowed",
            "commercial_redistribution",
            "territory",
            "starts_on",
            "ends_on",
            "in_force",
            "includes_future_releases",
            "ack_deadline_days",
            "derived_model_action",
            "contract_reference",
        ]


class DatasetOut(serializers.ModelSerializer[Dataset]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    licenses = LicenseOut(source="my_licenses", many=True, read_only=True)
    releases = DatasetReleaseOut(
        source="my_releases",
        many=True,
        read_only=True,
        help_text="My built releases of it (any license of mine), newest first.",
    )
    api = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "intended_purposes",
            "license_spdx",
            "license_name",
            "license_url",
            "commercial_redistribution",
            "phase_fit",
            "owner",
            "redress_contact",
            "licenses",
            "releases",
            "api",
        ]

    @extend_schema_field(
        serializers.DictField(child=serializers.URLField(), help_text="`self`: this dataset.")
    )
    def get_api(self, dataset: Dataset) -> dict[str, str]:
        return {"self": api_url("dataset", dataset_id=dataset.public_id)}


class ManifestQuery(serializers.Serializer[dict[str, Any]]):
    format = serializers.ChoiceField(
        choices=["jsonl", "csv"],
        default="jsonl",
        help_text="`jsonl` (the bytes of `manifest_sha256`) or `csv` (header row, the same "
        "columns and values).",
    )
    after = serializers.UUIDField(
        required=False,
        help_text="Resume: only the lines after this track's line (the `track` of the last "
        "line received). Must be a track of this release.",
    )
