"""Licensee endpoints over datasets, releases and their cards (thin: selectors decide
what a token may see and render the files; the manifest is in ``manifests``)."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar
from uuid import UUID

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.views import APIView

from datasetcards import selectors
from datasetcards.api.manifests import FixedRepresentation, if_none_match, not_modified
from datasetcards.api.serializers import DatasetOut, ReleaseOut
from datasetcards.cards import preferences
from datasetcards.models import Dataset, Release
from registry.api.base import CursorPages, LicenseeView, problems

RELEASE_ID = "0e9b6b1c-3f55-4b8e-9a37-6f1f0c2d4e5a"
DATASET_EXAMPLE = {
    "id": "7c1d2f43-8a9e-4f0b-b1c2-3d4e5f607182",
    "slug": "duplex",
    "name": "Duplex conversations",
    "description": "Two-channel conversations between consenting adults.",
    "intended_purposes": ["training", "redistribution"],
    "license_spdx": "CC-BY-NC-4.0",
    "license_name": "",
    "license_url": "",
    "commercial_redistribution": False,
    "phase_fit": ["post"],
    "owner": "Voice Consent Registry",
    "redress_contact": "privacy@registry.example",
    "licenses": [
        {
            "id": "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9",
            "purposes_allowed": ["training", "redistribution"],
            "commercial_redistribution": False,
            "territory": [],
            "starts_on": "2025-01-01",
            "ends_on": None,
            "in_force": True,
            "includes_future_releases": True,
            "ack_deadline_days": 30,
            "derived_model_action": "retrain",
            "contract_reference": "MSA-2025-014",
        }
    ],
    "releases": [
        {
            "id": RELEASE_ID,
            "version": "1.0.0",
            "status": "current",
            "built_at": "2025-03-02T09:00:00Z",
            "manifest_sha256": "5f" * 32,
            "track_count": 6,
            "api": {
                "self": f"https://registry.example/api/v1/releases/{RELEASE_ID}/",
                "manifest": f"https://registry.example/api/v1/releases/{RELEASE_ID}/manifest",
                "manifest_csv": f"https://registry.example/api/v1/releases/{RELEASE_ID}/manifest"
                "?format=csv",
                "card": f"https://registry.example/api/v1/releases/{RELEASE_ID}/card.json",
                "croissant": f"https://registry.example/api/v1/releases/{RELEASE_ID}/card.jsonld",
                "readme": f"https://registry.example/api/v1/releases/{RELEASE_ID}/README.md",
                "pdf": f"https://registry.example/api/v1/releases/{RELEASE_ID}/card.pdf",
                "signatures": f"https://registry.example/api/v1/releases/{RELEASE_ID}/card.sig",
                "rsl": f"https://registry.example/api/v1/releases/{RELEASE_ID}/rsl.xml",
            },
        }
    ],
    "api": {
        "self": "https://registry.example/api/v1/datasets/7c1d2f43-8a9e-4f0b-b1c2-3d4e5f607182/"
    },
}


class DatasetPages(CursorPages):
    ordering = ("slug",)


class ReleasePages(CursorPages):
    # The cursor's position is the first field: unique enough, and never changes once
    # built (a related field such as the dataset's slug cannot be a cursor position).
    ordering = ("-built_at", "-id")


@extend_schema(
    summary="Datasets I hold a license on",
    description="Every dataset any license of mine covers (past or present): what each of "
    "my licenses allows and my built releases of it, with their API links.",
    tags=["licensee"],
    responses={200: DatasetOut(many=True), **problems(400)},
    examples=[OpenApiExample("a dataset", value=DATASET_EXAMPLE, response_only=True)],
)
class LicensedDatasets(LicenseeView, ListAPIView[Dataset]):
    serializer_class = DatasetOut
    pagination_class = DatasetPages

    def get_queryset(self) -> Any:
        return selectors.licensed_datasets(licensee_id=self.licensee_id(self.request))


@extend_schema(
    summary="One dataset I hold a license on",
    tags=["licensee"],
    responses={200: DatasetOut, **problems(404)},
    examples=[OpenApiExample("a dataset", value=DATASET_EXAMPLE, response_only=True)],
)
class LicensedDataset(LicenseeView, RetrieveAPIView[Dataset]):
    serializer_class = DatasetOut

    def get_object(self) -> Dataset:
        return selectors.get_dataset_for_licensee(
            licensee_id=self.licensee_id(self.request), public_id=self.kwargs["dataset_id"]
        )


@extend_schema(
    summary="Releases licensed to me",
    tags=["licensee"],
    responses={200: ReleaseOut(many=True), **problems(400)},
)
class LicensedReleases(LicenseeView, ListAPIView[Release]):
    serializer_class = ReleaseOut
    pagination_class = ReleasePages

    def get_queryset(self) -> Any:
        return selectors.licensed_releases(licensee_id=self.licensee_id(self.request))


@extend_schema(
    summary="One release licensed to me",
    tags=["licensee"],
    responses={200: ReleaseOut, **problems(404)},
)
class LicensedRelease(LicenseeView, RetrieveAPIView[Release]):
    serializer_class = ReleaseOut

    def get_object(self) -> Release:
        return selectors.get_release_for_licensee(
            licensee_id=self.licensee_id(self.request), public_id=self.kwargs["release_id"]
        )


def _card_schema(filename: str, media_type: str, summary: str, kind: Any) -> Any:
    return extend_schema(
        summary=summary,
        description=f"The release's `{filename}`, byte for byte the file its public card URL "
        f"serves (`/datasets/<slug>/<version>/{filename}`). `ETag` is the quoted sha256 of "
        "the bytes; `If-None-Match` with it answers 304. A release of mine still building, "
        "or whose build failed, is 404 `release_not_built`.",
        tags=["licensee"],
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag of a copy you hold: 304 when it is still this one.",
            ),
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                description='`"<sha256 of the body>"`.',
                response=[200, 304],
            ),
            OpenApiParameter(
                "Content-Usage",
                str,
                OpenApiParameter.HEADER,
                description="IETF AI Preferences of the release, e.g. `train-ai=y, search=n`.",
                response=[200, 304],
            ),
        ],
        responses={
            (200, media_type): OpenApiResponse(kind, description=f"`{filename}`."),
            304: OpenApiResponse(description="Not modified: If-None-Match names this ETag."),
            **problems(404),
        },
    )


class ReleaseCardFile(LicenseeView, APIView):
    """One rendering of a licensed release's card."""

    filename: ClassVar[str]
    content_negotiation_class = FixedRepresentation

    def get(self, request: Request, release_id: UUID) -> HttpResponseBase:
        release = selectors.get_built_release_for_licensee(
            licensee_id=self.licensee_id(request), public_id=release_id
        )
        card = selectors.card_file(release=release, filename=self.filename)
        headers = {
            "ETag": f'"{hashlib.sha256(card.body).hexdigest()}"',
            # A card changes when the release is tainted or superseded: revalidate.
            "Cache-Control": "private, no-cache",
            "Content-Usage": preferences.content_usage_header(release),
        }
        if if_none_match(request, headers["ETag"]):
            return not_modified(headers)
        headers["Content-Disposition"] = f'attachment; filename="{card.filename}"'
        return HttpResponse(card.body, content_type=card.content_type, headers=headers)


@_card_schema(
    "card.json", "application/json", "A release's card (native JSON)", OpenApiTypes.OBJECT
)
class ReleaseCardJson(ReleaseCardFile):
    filename = "card.json"


@_card_schema(
    "card.jsonld",
    "application/ld+json",
    "A release's Croissant card (JSON-LD)",
    OpenApiTypes.OBJECT,
)
class ReleaseCardJsonLd(ReleaseCardFile):
    filename = "card.jsonld"


@_card_schema("README.md", "text/markdown", "A release's Hugging Face README", OpenApiTypes.STR)
class ReleaseReadme(ReleaseCardFile):
    filename = "README.md"


@_card_schema("card.pdf", "application/pdf", "A release's card (PDF)", OpenApiTypes.BINARY)
class ReleaseCardPdf(ReleaseCardFile):
    filename = "card.pdf"


@_card_schema(
    "card.sig",
    "application/json",
    "Signatures of a release's card files (sha256 and Ed25519 of each)",
    OpenApiTypes.OBJECT,
)
class ReleaseCardSignatures(ReleaseCardFile):
    filename = "card.sig"


@_card_schema("rsl.xml", "application/rsl+xml", "A release's RSL license", OpenApiTypes.STR)
class ReleaseRsl(ReleaseCardFile):
    filename = "rsl.xml"
