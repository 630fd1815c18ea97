"""Licensee endpoints over releases (thin: selectors decide what a token may see)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.pagination import CursorPagination

from datasetcards import selectors
from datasetcards.cards.native import release_urls
from datasetcards.models import Release
from registry.api.base import LicenseeView


class ReleaseOut(serializers.ModelSerializer[Release]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    dataset = serializers.CharField(source="dataset.slug", read_only=True)
    links = serializers.SerializerMethodField()

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
            "recording_count",
            "track_count",
            "links",
        ]

    def get_links(self, release: Release) -> dict[str, str]:
        return release_urls(release)


class ReleasePages(CursorPagination):
    ordering = ("dataset__slug", "-built_at", "id")
    page_size = 100
    max_page_size = 1000
    page_size_query_param = "page_size"


@extend_schema(summary="Releases licensed to me", tags=["licensee"])
class LicensedReleases(LicenseeView, ListAPIView[Release]):
    serializer_class = ReleaseOut
    pagination_class = ReleasePages

    def get_queryset(self) -> Any:
        return selectors.licensed_releases(licensee_id=self.licensee_id(self.request))


@extend_schema(summary="One release licensed to me", tags=["licensee"])
class LicensedRelease(LicenseeView, RetrieveAPIView[Release]):
    serializer_class = ReleaseOut

    def get_object(self) -> Release:
        return selectors.get_release_for_licensee(
            licensee_id=self.licensee_id(self.request), public_id=self.kwargs["release_id"]
        )
