"""Endpoints for compliance staff (staff tokens, scope ``staff:read``): find a speaker
by exact email or public id, read their consent events, current states and the progress
of their withdrawals, and export the event log of a period.

Thin: ``consent.staff_selectors`` decides what is read. Only the lookup returns personal
data (it is the endpoint defined to); events and exports name speakers by public id.
There is no access log of staff reads yet, so none is written here."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import staff_selectors
from consent.exports import copy_chunks
from consent.models import (
    ActorKind,
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentState,
    EvidenceMethod,
    OutboxKind,
    Purpose,
)
from propagation import selectors as propagation_selectors
from propagation.models import Propagation, PropagationStatus, TargetKind
from registry import pii
from registry.access_log import record_access
from registry.api.base import CursorPages, StaffView, problems
from registry.models import JURISDICTION_RE, AccessAction, Speaker

TAGS = ["staff"]
# An export covers at most this long a period: enough for a yearly report, short
# enough that one request cannot hold a COPY open over the whole log.
MAX_EXPORT_SPAN = datetime.timedelta(days=366)
EXPORT_MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}

SPEAKER_ID = "6f1c2d4e-8a9b-4c3d-9e0f-1a2b3c4d5e6f"
NOTICE_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
EVENT_EXAMPLE = {
    "seq": 4182,
    "id": "0b9e7c1a-3f2d-4e5a-8b6c-7d8e9f0a1b2c",
    "speaker": SPEAKER_ID,
    "purpose": "training",
    "action": "withdraw",
    "state": "withdrawn",
    "notice": {"id": NOTICE_ID, "version": 2, "language": "en"},
    "jurisdiction": "US-IL",
    "evidence_method": "web_form",
    "actor_kind": "speaker",
    "occurred_at": "2025-03-14T09:26:53.000000Z",
    "recorded_at": "2025-03-14T09:26:53.412000Z",
    "expires_at": None,
    "session": None,
    "hash": "9f2c" + "0" * 60,
    "prev_hash": "41ab" + "0" * 60,
}


# --- Input --------------------------------------------------------------------------


class SpeakerLookupIn(serializers.Serializer[Any]):
    email = serializers.CharField(
        required=False,
        max_length=320,
        # The blind index normalises (NFKC, trimmed, case-folded); it gets the raw value.
        trim_whitespace=False,
        help_text="The exact address (case and surrounding spaces do not matter).",
    )
    id = serializers.UUIDField(required=False, help_text="A speaker's public id.")

    def validate_email(self, value: str) -> str:
        try:
            validate_email(pii.normalise_email(value))
        except DjangoValidationError as exc:
            raise serializers.ValidationError("not a valid email address") from exc
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("email" in attrs) == ("id" in attrs):
            raise serializers.ValidationError("give exactly one of `email` and `id`")
        return attrs


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
)
class InstantField(serializers.Field[datetime.datetime, datetime.datetime, str, Any]):
    """An ISO 8601 date (midnight UTC) or date-time (UTC unless an offset is given)."""

    default_error_messages = {"invalid": "expected an ISO 8601 date or date-time"}

    def to_internal_value(self, data: Any) -> datetime.datetime:
        try:
            parsed = parse_datetime(str(data).strip())
            if parsed is not None:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=datetime.UTC)
                return parsed.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            pass
        self.fail("invalid")

    def to_representation(self, value: datetime.datetime) -> str:
        return value.isoformat()


class EventExportIn(serializers.Serializer[Any]):
    to = InstantField(help_text="End of the period (exclusive), e.g. `2025-02-01`.")
    jurisdiction = serializers.RegexField(
        JURISDICTION_RE,
        required=False,
        max_length=8,
        help_text="Only events of speakers in this jurisdiction (exact ISO 3166 code).",
    )
    purpose = serializers.ChoiceField(
        Purpose.choices, required=False, help_text="Only events for this purpose."
    )
    format = serializers.ChoiceField(
        [("csv", "CSV with a header row"), ("jsonl", "One JSON object per line")],
        default="csv",
        help_text="`csv` (text/csv) or `jsonl` (application/x-ndjson).",
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # ``from`` is a Python keyword, so it cannot be a class attribute.
        start = InstantField(
            help_text="Start of the period (inclusive): a date (`2025-01-01`, midnight UTC) "
            "or a date-time (`2025-01-01T09:00:00+09:00`; UTC without an offset)."
        )
        return {"from": start, **super().get_fields()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["from"], attrs["to"]
        if start >= end:
            raise serializers.ValidationError({"to": ["must be later than `from`"]})
        if end - start > MAX_EXPORT_SPAN:
            raise serializers.ValidationError(
                {"to": [f"a period of at most {MAX_EXPORT_SPAN.days} days"]}
            )
        return attrs


# --- Output -------------------------------------------------------------------------


class StaffContactOut(serializers.Serializer[Speaker]):
    name = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)


class StaffSpeakerOut(serializers.Serializer[Speaker]):
    id = serializers.UUIDField(source="public_id")
    jurisdiction = serializers.CharField()
    preferred_language = serializers.CharField()
    created_at = serializers.DateTimeField()
    erased_at = serializers.DateTimeField(allow_null=True)
    contact = serializers.SerializerMethodField(
        help_text="Decrypted contact details; null once the speaker was erased."
    )

    @extend_schema_field(StaffContactOut(allow_null=True))
    def get_contact(self, speaker: Speaker) -> dict[str, Any] | None:
        if speaker.erased_at is not None:
            return None
        return dict(StaffContactOut(speaker).data)


class StaffSpeakerLookupOut(serializers.Serializer[Any]):
    results = StaffSpeakerOut(many=True, help_text="The matching speaker, or none.")


class StaffEventNoticeOut(serializers.Serializer[ConsentEvent]):
    id = serializers.UUIDField(source="x_notice_id")
    version = serializers.IntegerField(source="x_notice_version")
    language = serializers.CharField(source="notice_language")


class StaffConsentEventOut(serializers.Serializer[ConsentEvent]):
    seq = serializers.IntegerField(help_text="Position in the hash chain.")
    id = serializers.UUIDField(source="public_id")
    speaker = serializers.UUIDField(source="x_speaker", help_text="The speaker's public id.")
    purpose = serializers.ChoiceField(Purpose.choices)
    action = serializers.ChoiceField(ConsentAction.choices)
    state = serializers.ChoiceField(ConsentState.choices, help_text="The state the act led to.")
    notice = StaffEventNoticeOut(source="*", help_text="The notice text the speaker was shown.")
    jurisdiction = serializers.CharField(help_text="The speaker's, at the time.")
    evidence_method = serializers.ChoiceField(EvidenceMethod.choices)
    actor_kind = serializers.ChoiceField(ActorKind.choices)
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    session = serializers.UUIDField(
        source="x_session", allow_null=True, help_text="The recording session it is scoped to."
    )
    hash = serializers.CharField()
    prev_hash = serializers.CharField()


class StaffNoticeOut(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="public_id")
    version = serializers.IntegerField()
    language = serializers.CharField()


class StaffEventRefOut(serializers.Serializer[ConsentEvent]):
    seq = serializers.IntegerField()
    id = serializers.UUIDField(source="public_id")


class StaffConsentOut(serializers.Serializer[Consent]):
    purpose = serializers.ChoiceField(Purpose.choices)
    session = serializers.UUIDField(
        source="session.public_id",
        allow_null=True,
        help_text="The recording session it covers; null: all recordings.",
    )
    recording = serializers.UUIDField(source="recording.public_id", allow_null=True)
    state = serializers.ChoiceField(ConsentState.choices)
    in_force = serializers.SerializerMethodField()
    needs_reconsent = serializers.SerializerMethodField(
        help_text="Valid, but a newer version of its notice is active: ask again."
    )
    given_at = serializers.DateTimeField(allow_null=True)
    state_since = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    notice = StaffNoticeOut()
    last_event = StaffEventRefOut()

    def get_in_force(self, consent: Consent) -> bool:
        return consent.in_force_at(self.context["now"])

    def get_needs_reconsent(self, consent: Consent) -> bool:
        return consent.is_valid and self.context["reconsent"].get(consent.notice_id, False)


class StaffKindProgressOut(serializers.Serializer[Any]):
    reached = serializers.IntegerField()
    total = serializers.IntegerField()


class StaffProgressOut(serializers.Serializer[propagation_selectors.PropagationReport]):
    total = serializers.IntegerField(source="progress.total")
    reached = serializers.IntegerField(
        source="progress.reached", help_text="Delivered or acknowledged."
    )
    acknowledged = serializers.IntegerField(source="progress.acknowledged")
    retrying = serializers.IntegerField(source="progress.retrying")
    dead = serializers.IntegerField(source="progress.dead")
    done = serializers.BooleanField(source="progress.done", help_text="Every target reached.")
    by_kind = serializers.SerializerMethodField(help_text="Reached and total per target kind.")
    by_status = serializers.DictField(
        child=serializers.IntegerField(), help_text="Number of targets per status."
    )
    oldest_pending_at = serializers.DateTimeField(
        allow_null=True, help_text="When the oldest target not yet reached was planned."
    )
    pending_age_seconds = serializers.IntegerField(allow_null=True)

    @extend_schema_field(serializers.DictField(child=StaffKindProgressOut()))
    def get_by_kind(
        self, report: propagation_selectors.PropagationReport
    ) -> dict[str, dict[str, int]]:
        return {
            kind: {"reached": reached, "total": total}
            for kind, (reached, total) in report.progress.by_kind.items()
        }


class StaffDeadTargetOut(serializers.Serializer[propagation_selectors.DeadTarget]):
    id = serializers.UUIDField(help_text="The target's idempotency key.")
    kind = serializers.ChoiceField(TargetKind.choices)
    object_id = serializers.UUIDField(
        allow_null=True, help_text="The release, license, model, track or voiceprint."
    )
    attempts = serializers.IntegerField()
    died_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()


class StaffPropagationOut(serializers.Serializer[propagation_selectors.PropagationReport]):
    id = serializers.UUIDField(source="propagation.public_id")
    kind = serializers.ChoiceField(OutboxKind.choices, source="propagation.kind")
    purpose = serializers.SerializerMethodField(help_text="Null for an erasure (every purpose).")
    event = StaffEventRefOut(
        source="propagation.outbox.event", allow_null=True, help_text="The withdrawal or expiry."
    )
    erasure_request = serializers.UUIDField(
        source="propagation.erasure_request.public_id", allow_null=True
    )
    session = serializers.UUIDField(source="propagation.session.public_id", allow_null=True)
    within_erasure = serializers.BooleanField(source="propagation.within_erasure")
    effective_at = serializers.DateTimeField(source="propagation.effective_at")
    created_at = serializers.DateTimeField(source="propagation.created_at")
    published_at = serializers.DateTimeField(
        source="propagation.outbox.published_at", allow_null=True
    )
    status = serializers.ChoiceField(PropagationStatus.choices, source="propagation.status")
    completed_at = serializers.DateTimeField(source="propagation.completed_at", allow_null=True)
    progress = StaffProgressOut(source="*")
    dead_targets = StaffDeadTargetOut(many=True, help_text="Retries exhausted: waiting for staff.")

    @extend_schema_field(serializers.ChoiceField(Purpose.choices, allow_null=True))
    def get_purpose(self, report: propagation_selectors.PropagationReport) -> str | None:
        return report.propagation.purpose or None


# --- Views --------------------------------------------------------------------------


class SeqPages(CursorPages):
    ordering = "seq"


class IdPages(CursorPages):
    ordering = "id"


class NewestPages(CursorPages):
    ordering = "-created_at"


def _speaker(view: Any) -> Speaker:
    return staff_selectors.get_speaker_for_staff(public_id=view.kwargs["speaker_id"])


@extend_schema(
    summary="Find a speaker by exact email or public id",
    description="Returns the speaker (zero or one) with exactly this email, matched through "
    "its blind index after the same normalisation as at registration (NFKC, trimmed, "
    "case-folded; no partial match), or with this public id. The only staff endpoint that "
    "returns decrypted contact details; an erased speaker has none.",
    tags=TAGS,
    parameters=[SpeakerLookupIn],
    responses={
        200: OpenApiResponse(
            StaffSpeakerLookupOut,
            examples=[
                OpenApiExample(
                    "Found",
                    value={
                        "results": [
                            {
                                "id": SPEAKER_ID,
                                "jurisdiction": "US-IL",
                                "preferred_language": "en",
                                "created_at": "2025-01-06T15:04:05.000000Z",
                                "erased_at": None,
                                "contact": {
                                    "name": "Ada Example",
                                    "email": "ada@example.org",
                                    "phone": "+1 312 555 0100",
                                },
                            }
                        ]
                    },
                ),
                OpenApiExample("Not found", value={"results": []}),
            ],
        ),
        **problems(400, 406),
    },
)
class StaffSpeakerLookup(StaffView, APIView):
    def get(self, request: Request) -> Response:
        query = SpeakerLookupIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = staff_selectors.find_speakers(
            email=query.validated_data.get("email"), public_id=query.validated_data.get("id")
        )
        body = StaffSpeakerLookupOut({"results": found}).data
        for speaker in found:
            if speaker.erased_at is None:
                record_access(
                    request=request, action=AccessAction.CONTACT_LOOKED_UP, speaker=speaker
                )
        return Response(body)


@extend_schema(
    summary="A speaker's consent events",
    description="Every consent event of the speaker in chain order (seq), with the notice "
    "shown and the hash links; cursor-paginated.",
    tags=TAGS,
    responses={
        200: OpenApiResponse(
            StaffConsentEventOut(many=True),
            examples=[OpenApiExample("A withdrawal", value=EVENT_EXAMPLE)],
        ),
        **problems(400, 404, 406),
    },
)
class StaffSpeakerEvents(StaffView, ListAPIView[ConsentEvent]):
    serializer_class = StaffConsentEventOut
    pagination_class = SeqPages

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return ConsentEvent.objects.none()
        return staff_selectors.speaker_events(speaker=_speaker(self))


@extend_schema(
    summary="A speaker's current consent states",
    description="One row per purpose for all recordings, and one per purpose and recording "
    "session for consent given for one call; cursor-paginated.",
    tags=TAGS,
    responses={
        200: OpenApiResponse(
            StaffConsentOut(many=True),
            examples=[
                OpenApiExample(
                    "Training consent in force",
                    value={
                        "purpose": "training",
                        "session": None,
                        "recording": None,
                        "state": "given",
                        "in_force": True,
                        "needs_reconsent": False,
                        "given_at": "2025-01-06T15:10:00.000000Z",
                        "state_since": "2025-01-06T15:10:00.000000Z",
                        "expires_at": None,
                        "notice": {"id": NOTICE_ID, "version": 2, "language": "en"},
                        "last_event": {"seq": 977, "id": EVENT_EXAMPLE["id"]},
                    },
                )
            ],
        ),
        **problems(400, 404, 406),
    },
)
class StaffSpeakerConsents(StaffView, ListAPIView[Consent]):
    serializer_class = StaffConsentOut
    pagination_class = IdPages

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Consent.objects.none()
        return staff_selectors.speaker_consents(speaker=_speaker(self))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page: Sequence[Consent] = self.paginate_queryset(self.get_queryset()) or []
        context = {
            **self.get_serializer_context(),
            "now": datetime.datetime.now(tz=datetime.UTC),
            "reconsent": staff_selectors.reconsent_by_notice(page),
        }
        return self.get_paginated_response(
            self.get_serializer(page, many=True, context=context).data
        )


@extend_schema(
    summary="How far a speaker's withdrawals and erasures have travelled",
    description="Every withdrawal, expiry and erasure of the speaker, newest first, with "
    "its targets (releases, licensees, derived models, audio, voiceprints, personal "
    "data) reached N of M, per kind and per status, the age of the oldest target not "
    "yet reached, and the dead targets waiting for staff; cursor-paginated.",
    tags=TAGS,
    responses={
        200: OpenApiResponse(
            StaffPropagationOut(many=True),
            examples=[
                OpenApiExample(
                    "A withdrawal half way",
                    value={
                        "id": "c3d2e1f0-a9b8-4c7d-8e6f-5a4b3c2d1e0f",
                        "kind": "withdrawal",
                        "purpose": "training",
                        "event": {"seq": 4182, "id": EVENT_EXAMPLE["id"]},
                        "erasure_request": None,
                        "session": None,
                        "within_erasure": False,
                        "effective_at": "2025-03-14T09:26:53.000000Z",
                        "created_at": "2025-03-14T09:26:53.500000Z",
                        "published_at": "2025-03-14T09:26:54.000000Z",
                        "status": "open",
                        "completed_at": None,
                        "progress": {
                            "total": 4,
                            "reached": 2,
                            "acknowledged": 1,
                            "retrying": 0,
                            "dead": 1,
                            "done": False,
                            "by_kind": {
                                "release": {"reached": 1, "total": 1},
                                "license": {"reached": 1, "total": 1},
                                "derived_model": {"reached": 0, "total": 1},
                                "audio": {"reached": 0, "total": 1},
                            },
                            "by_status": {
                                "acknowledged": 1,
                                "delivered": 1,
                                "dead": 1,
                                "pending": 1,
                            },
                            "oldest_pending_at": "2025-03-14T09:26:53.500000Z",
                            "pending_age_seconds": 86400,
                        },
                        "dead_targets": [
                            {
                                "id": "e1f0a9b8-c7d6-4e5f-a4b3-c2d1e0f9a8b7",
                                "kind": "derived_model",
                                "object_id": "f0a9b8c7-d6e5-4f4a-b3c2-d1e0f9a8b7c6",
                                "attempts": 8,
                                "died_at": "2025-03-15T09:30:00.000000Z",
                                "last_error": "HTTP 503",
                            }
                        ],
                    },
                )
            ],
        ),
        **problems(400, 404, 406),
    },
)
class StaffSpeakerPropagation(StaffView, ListAPIView[Any]):  # serializes reports
    serializer_class = StaffPropagationOut
    pagination_class = NewestPages

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Propagation.objects.none()
        return propagation_selectors.speaker_propagations(speaker=_speaker(self))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page: Sequence[Propagation] = self.paginate_queryset(self.get_queryset()) or []
        reports = propagation_selectors.propagation_reports(page)
        return self.get_paginated_response(self.get_serializer(reports, many=True).data)


class ExportNegotiation(BaseContentNegotiation):
    """The export's format is its ``format`` parameter (checked as input, so a bad one is
    a 400) and its errors are problem+json: neither the Accept header nor DRF's own
    ``?format=`` renderer override may turn a request into a 406 or 404."""

    def select_parser(self, request: Request, parsers: Any) -> None:
        return None  # a GET: no body is read

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _stamp(value: datetime.datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


EXPORT_DESCRIPTION = (
    "`format=csv`: text/csv, a header row then one row per event (the notice flattened "
    "to `notice_id`, `notice_version`, `notice_language`). `format=jsonl`: "
    "application/x-ndjson, one JSON object per line shaped like an event of the events "
    "endpoint. Sent as `attachment` with a file name naming the period."
)
CSV_EXAMPLE = (
    "seq,id,speaker,purpose,action,state,notice_id,notice_version,notice_language,"
    "jurisdiction,evidence_method,actor_kind,occurred_at,recorded_at,expires_at,session,"
    "hash,prev_hash\n"
    f"4182,{EVENT_EXAMPLE['id']},{SPEAKER_ID},training,withdraw,withdrawn,"
    f"{NOTICE_ID},2,en,US-IL,web_form,speaker,"
    "2025-03-14T09:26:53.000000Z,2025-03-14T09:26:53.412000Z,,,"
    f"{EVENT_EXAMPLE['hash']},{EVENT_EXAMPLE['prev_hash']}\n"
)


@extend_schema(
    summary="Export the consent events of a period",
    description="The events that occurred in [`from`, `to`) (at most "
    f"{MAX_EXPORT_SPAN.days} days), optionally of one jurisdiction and purpose, in seq "
    "order, streamed by PostgreSQL as CSV (with a header row) or JSON lines (each shaped "
    "like an event of `/staff/speakers/{id}/events/`). Dates mean midnight UTC; "
    "date-times without an offset are UTC. Speakers are named by public id only.",
    tags=TAGS,
    parameters=[EventExportIn],
    responses={
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR,
            description=EXPORT_DESCRIPTION,
            examples=[OpenApiExample("CSV", value=CSV_EXAMPLE)],
        ),
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.STR,
            description=EXPORT_DESCRIPTION,
            examples=[OpenApiExample("JSON lines", value=json.dumps(EVENT_EXAMPLE) + "\n")],
        ),
        **problems(400),
    },
)
class StaffEventsExport(StaffView, APIView):
    content_negotiation_class = ExportNegotiation

    def get(self, request: Request) -> StreamingHttpResponse:
        query = EventExportIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        fmt = params["format"]
        statement, values = staff_selectors.events_export_statement(
            start=params["from"],
            end=params["to"],
            fmt=fmt,
            jurisdiction=params.get("jurisdiction"),
            purpose=params.get("purpose"),
        )
        record_access(
            request=request,
            action=AccessAction.EVENTS_EXPORTED,
            detail={
                "from": params["from"].isoformat(),
                "to": params["to"].isoformat(),
                "jurisdiction": params.get("jurisdiction"),
                "purpose": params.get("purpose"),
                "format": fmt,
                "via": "api",
            },
        )
        charset = "; charset=utf-8" if fmt == "csv" else ""
        response = StreamingHttpResponse(
            (bytes(chunk) for chunk in copy_chunks(statement, values)),
            content_type=EXPORT_MEDIA_TYPES[fmt] + charset,
        )
        filename = f"consent-events_{_stamp(params['from'])}_{_stamp(params['to'])}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
