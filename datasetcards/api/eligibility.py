"""Licensee eligibility endpoints: what may I use for a purpose now, and why (or why not)
for one recording. Thin: ``datasetcards.licensed_eligibility`` decides, the filters
narrow, the serializers shape ids and audio facts (never a speaker's personal data)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend  # type: ignore[import-untyped]
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from consent.models import Purpose
from datasetcards import licensed_eligibility as selectors
from datasetcards.api.filters import EligibleRecordingFilter, EligibleTrackFilter
from datasetcards.models import ReleaseStatus
from registry.api.base import CursorPages, LicenseeView, ProblemSerializer, problems
from registry.api.errors import PROBLEM
from registry.db import without_parallel_workers
from registry.models import Recording, Track

PURPOSE_HELP = (
    "The consent purpose the data would be used for. One of your licenses in force must "
    "allow it (else 403 `purpose_not_licensed`)."
)


class EligibilityQuery(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=Purpose.choices, help_text=PURPOSE_HELP)
    release = serializers.UUIDField(
        required=False,
        help_text="Only this release (one licensed to you; any other id is 404). "
        "Default: every release licensed to you.",
    )


class ExplanationQuery(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=Purpose.choices, help_text="The consent purpose.")


class TrackOfRecordingOut(serializers.Serializer[Any]):
    track = serializers.UUIDField(source="public_id")
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField(source="speaker.public_id", help_text="Pseudonymous id.")


class EligibleRecordingOut(serializers.Serializer[Any]):
    recording = serializers.UUIDField(source="public_id")
    recorded_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    sample_rate_hz = serializers.IntegerField()
    channels = serializers.IntegerField(source="channel_count")
    language = serializers.CharField()
    jurisdiction = serializers.CharField()
    isolated_at_source = serializers.BooleanField()
    audio_sha256 = serializers.CharField()
    tracks = TrackOfRecordingOut(many=True, source="eligible_tracks")
    releases = serializers.ListField(
        child=serializers.UUIDField(),
        source="release_ids",
        help_text="Your releases holding it that you may use for the purpose.",
    )


class EligibleTrackOut(serializers.Serializer[Any]):
    track = serializers.UUIDField(source="public_id")
    recording = serializers.UUIDField(source="recording.public_id")
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField(source="speaker.public_id", help_text="Pseudonymous id.")
    recorded_at = serializers.DateTimeField(source="recording.recorded_at")
    duration_ms = serializers.IntegerField(source="recording.duration_ms")
    sample_rate_hz = serializers.IntegerField(source="recording.sample_rate_hz")
    channels = serializers.IntegerField(source="recording.channel_count")
    language = serializers.CharField(source="recording.language")
    jurisdiction = serializers.CharField(source="recording.jurisdiction")
    isolated_at_source = serializers.BooleanField(source="recording.isolated_at_source")
    audio_sha256 = serializers.CharField(source="recording.audio_sha256")
    releases = serializers.ListField(
        child=serializers.UUIDField(),
        source="release_ids",
        help_text="Your releases holding it that you may use for the purpose.",
    )


class ParticipantOut(serializers.Serializer[Any]):
    channel = serializers.IntegerField()
    speaker = serializers.UUIDField(source="speaker_id", help_text="Pseudonymous id.")
    recording_consent_ok = serializers.BooleanField(
        help_text="Recording consent given before the call and still valid."
    )
    purpose_ok = serializers.BooleanField(help_text="A valid consent for the purpose.")
    reasons = serializers.ListField(child=serializers.CharField())


class GrantOut(serializers.Serializer[Any]):
    license = serializers.UUIDField(source="license_id")
    release = serializers.UUIDField(source="release_id")
    dataset = serializers.CharField(help_text="The dataset's slug.")
    version = serializers.CharField()
    release_status = serializers.ChoiceField(choices=ReleaseStatus.choices)
    purposes_allowed = serializers.ListField(child=serializers.CharField())
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)
    in_force = serializers.BooleanField(help_text="The license's term includes today (UTC).")


class RecordingEligibilityOut(serializers.Serializer[Any]):
    recording = serializers.UUIDField(source="consent.recording_id")
    purpose = serializers.CharField(source="consent.purpose")
    at = serializers.DateTimeField(source="consent.at", help_text="Decided at this moment.")
    eligible = serializers.BooleanField(
        help_text="You may use it for the purpose now: consent and license both allow it."
    )
    consent_eligible = serializers.BooleanField(
        source="consent.eligible", help_text="Every participant's consent covers the purpose."
    )
    license_allows_purpose = serializers.BooleanField(
        help_text="A license of yours in force, covering a release holding it, allows it."
    )
    reasons = serializers.ListField(child=serializers.CharField())
    participants = ParticipantOut(many=True, source="consent.participants")
    licenses = GrantOut(
        many=True, source="grants", help_text="Your licenses and releases holding it."
    )


class EligibilityPages(CursorPages):
    """Keyset pages on the unique ``public_id`` index; the cursor holds no database id."""

    ordering = "public_id"


_SPEAKER = "9b2f4f0e-5d0c-4c41-9a0e-3f7f0f6f1a01"
_FACTS = {
    "recorded_at": "2026-03-02T14:05:00Z",
    "duration_ms": 612000,
    "sample_rate_hz": 16000,
    "channels": 2,
    "language": "en",
    "jurisdiction": "US-IL",
    "isolated_at_source": True,
    "audio_sha256": "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
}
_RELEASE = "5f0c3c1e-8d4e-4a55-b1d2-0c9f1e2d3a4b"
_RECORDING = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
TRACK_EXAMPLE = {
    "track": "7c6b5a49-3827-4165-9a4b-3c2d1e0f9a8b",
    "recording": _RECORDING,
    "channel": 0,
    "speaker": _SPEAKER,
    **_FACTS,
    "releases": [_RELEASE],
}
RECORDING_EXAMPLE = {
    "recording": _RECORDING,
    **_FACTS,
    "tracks": [
        {"track": "7c6b5a49-3827-4165-9a4b-3c2d1e0f9a8b", "channel": 0, "speaker": _SPEAKER},
        {
            "track": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "channel": 1,
            "speaker": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
        },
    ],
    "releases": [_RELEASE],
}
EXPLANATION_EXAMPLE = {
    "recording": _RECORDING,
    "purpose": "training",
    "at": "2026-05-01T09:30:00Z",
    "eligible": False,
    "consent_eligible": False,
    "license_allows_purpose": True,
    "reasons": ["speaker on channel 1 withdrew training consent on 2026-04-28"],
    "participants": [
        {
            "channel": 0,
            "speaker": _SPEAKER,
            "recording_consent_ok": True,
            "purpose_ok": True,
            "reasons": [],
        },
        {
            "channel": 1,
            "speaker": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8",
            "recording_consent_ok": True,
            "purpose_ok": False,
            "reasons": ["speaker on channel 1 withdrew training consent on 2026-04-28"],
        },
    ],
    "licenses": [
        {
            "license": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
            "release": _RELEASE,
            "dataset": "duplex",
            "version": "1.0.0",
            "release_status": "tainted",
            "purposes_allowed": ["training", "redistribution"],
            "starts_on": "2026-01-01",
            "ends_on": None,
            "in_force": True,
        }
    ],
}
# A licensee token may lack the scope, or ask for a purpose no license of its allows.
FORBIDDEN = OpenApiResponse(
    ProblemSerializer,
    description="The token's scopes do not allow this operation (`permission_denied`), or "
    "none of your licenses in force allows the purpose (`purpose_not_licensed`).",
)
_LIST_DESCRIPTION = (
    "Everything you may use for `purpose` right now: the consent rule is applied at the "
    "moment of the request (a withdrawal counts at once, before any erratum), within the "
    "releases your licenses in force grant for that purpose (a withdrawn release grants "
    "nothing). List filters take comma-separated values. Pages are keyset cursors "
    "(`next` / `previous`; `page_size` up to 1000)."
)


class _EligibleList(LicenseeView):
    """Shared by both lists: the scope from ``purpose``/``release``, then the filters."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with without_parallel_workers():
            return super().list(request, *args, **kwargs)  # type: ignore[misc]

    def scope(self, request: Request) -> selectors.EligibilityScope:
        query = EligibilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.licensed_scope(
            licensee_id=self.licensee_id(request),
            purpose=query.validated_data["purpose"],
            release_id=query.validated_data.get("release"),
        )


@extend_schema(
    summary="Tracks I may use for a purpose now",
    description=_LIST_DESCRIPTION,
    tags=["licensee"],
    parameters=[EligibilityQuery],
    responses={200: EligibleTrackOut(many=True), **problems(400, 404), (403, PROBLEM): FORBIDDEN},
    examples=[OpenApiExample("An eligible track", value=TRACK_EXAMPLE, response_only=True)],
)
class EligibleTracks(_EligibleList, ListAPIView[Track]):
    queryset = Track.objects.none()  # the model, for the schema; get_queryset answers
    serializer_class = EligibleTrackOut
    pagination_class = EligibilityPages
    filter_backends = [DjangoFilterBackend]
    filterset_class = EligibleTrackFilter

    def get_queryset(self) -> QuerySet[Track]:
        return selectors.licensed_eligible_tracks(scope=self.scope(self.request))


@extend_schema(
    summary="Recordings I may use for a purpose now",
    description=_LIST_DESCRIPTION + " Each recording lists its tracks (all are eligible).",
    tags=["licensee"],
    parameters=[EligibilityQuery],
    responses={
        200: EligibleRecordingOut(many=True),
        **problems(400, 404),
        (403, PROBLEM): FORBIDDEN,
    },
    examples=[OpenApiExample("An eligible recording", value=RECORDING_EXAMPLE, response_only=True)],
)
class EligibleRecordings(_EligibleList, ListAPIView[Recording]):
    queryset = Recording.objects.none()
    serializer_class = EligibleRecordingOut
    pagination_class = EligibilityPages
    filter_backends = [DjangoFilterBackend]
    filterset_class = EligibleRecordingFilter

    def get_queryset(self) -> QuerySet[Recording]:
        return selectors.licensed_eligible_recordings(scope=self.scope(self.request))


@extend_schema(
    summary="Why one of my recordings may (not) be used for a purpose now",
    description="The verdict of the consent rule for every participant (by channel and "
    "pseudonymous speaker id; no personal data), and your licenses and releases that hold "
    "the recording. `eligible` needs both the consents and a license in force allowing "
    "the purpose. A recording that is in none of your releases is 404; a purpose none of "
    "your licenses in force allows for it is 403 `purpose_not_licensed` (the speakers' "
    "consent for it is not yours to know).",
    tags=["licensee"],
    parameters=[ExplanationQuery],
    responses={200: RecordingEligibilityOut, **problems(400, 404), (403, PROBLEM): FORBIDDEN},
    examples=[
        OpenApiExample("Withdrawn after the release", value=EXPLANATION_EXAMPLE, response_only=True)
    ],
)
class RecordingEligibility(LicenseeView, GenericAPIView[Recording]):
    serializer_class = RecordingEligibilityOut

    def get(self, request: Request, recording_id: Any) -> Response:
        query = ExplanationQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        explanation = selectors.explain_for_licensee(
            licensee_id=self.licensee_id(request),
            recording_id=recording_id,
            purpose=query.validated_data["purpose"],
        )
        return Response(RecordingEligibilityOut(explanation).data)
