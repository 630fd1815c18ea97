"""The collection platform's endpoints: speakers, notices, consent acts, sessions and
recording ingestion. Thin: serializers check shape, services decide, selectors read.
Collector tokens only (``consent:write``; ``recordings:ingest`` for ingestion)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import selectors
from consent import services as consent_services
from consent.api import serializers as shapes
from consent.api.idempotency import (
    KEY_PARAMETER,
    OPTIONAL_KEY_PARAMETER,
    REPLAYED_HEADER,
    IdempotentRequest,
    idempotent_create,
)
from consent.models import (
    ActorKind,
    Consent,
    ConsentAction,
    ConsentEvent,
    ParticipantClosedReason,
    Purpose,
)
from consent.services import Actor, Evidence
from consent.services.biometrics import voiceprint_destruction
from consent.services.ingestion import (
    MAX_BATCH_LINES,
    BatchRejected,
    IngestedRecording,
    LineRejection,
    RecordingLine,
    ingest_recording,
    ingest_recordings,
)
from registry import services as catalogue
from registry.api.base import CollectorView, problems
from registry.api.errors import PROBLEM, problem, problem_exception_handler
from registry.api.parsers import JsonParser
from registry.api.strict import DuplicateMembers, UnknownMembers, members_once
from registry.errors import InvalidInput, RegistryError
from registry.models import TokenScope

TAGS = ["collector"]
MAX_BULK_BYTES = 10 * 1024 * 1024

# --- Speakers ----------------------------------------------------------------------


class Speakers(CollectorView, APIView):
    parser_classes = [JsonParser]

    @extend_schema(
        summary="Register a speaker",
        description="Contact details and date of birth are encrypted at rest and never "
        "returned; the answer is the speaker's public id only. A duplicate email is 409.",
        tags=TAGS,
        parameters=[OPTIONAL_KEY_PARAMETER, REPLAYED_HEADER],
        request=shapes.SpeakerIn,
        responses={201: shapes.SpeakerOut, **problems(400, 409, 415)},
        examples=[
            OpenApiExample(
                "Attested adult in Illinois",
                request_only=True,
                value={
                    "name": "Dana Example",
                    "jurisdiction": "US-IL",
                    "preferred_language": "en",
                    "email": "dana@example.org",
                    "age_verification_method": "platform_attestation",
                    "age_attested_minimum": 18,
                },
            ),
            OpenApiExample(
                "Registered",
                response_only=True,
                status_codes=["201"],
                value={"id": "6f1d0a5e-3c1b-4d8e-9a55-0b7c2a1e9f10"},
            ),
        ],
    )
    @idempotent_create
    def post(self, request: Request) -> Response:
        data = _valid(shapes.SpeakerIn, request.data)
        speaker = catalogue.register_speaker(**data)
        return Response(shapes.SpeakerOut(speaker).data, status=201)


def _valid(shape: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    checked = shape(data=data)
    checked.is_valid(raise_exception=True)
    return cast(dict[str, Any], checked.validated_data)


def _consent_now(purpose: str, consent: Consent | None, now: datetime.datetime) -> dict[str, Any]:
    if consent is None:
        return {
            "purpose": purpose,
            "state": None,
            "in_force": False,
            "given_at": None,
            "state_since": None,
            "expires_at": None,
            "notice": None,
            "notice_version": None,
            "last_event": None,
        }
    return {
        "purpose": purpose,
        "state": consent.state,
        "in_force": consent.in_force_at(now),
        "given_at": consent.given_at,
        "state_since": consent.state_since,
        "expires_at": consent.expires_at,
        "notice": consent.notice.public_id,
        "notice_version": consent.notice.version,
        "last_event": consent.last_event.public_id,
    }


ACT_EXAMPLE = {
    "action": "give",
    "purpose": "training",
    "notice": "0b5c1f0e-8d2a-4c4e-9d7b-2f6a9e1c3d45",
    "evidence": {
        "method": "web_form_signed",
        "signed_name": "Dana Example",
        "occurred_at": "2026-03-01T10:00:00Z",
        "ip_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
    },
}
ACT_ANSWER = {
    "speaker": "6f1d0a5e-3c1b-4d8e-9a55-0b7c2a1e9f10",
    "purpose": "training",
    "action": "give",
    "session": None,
    "state": "given",
    "event_id": "c3a8e2d4-1f0b-4a6c-8e9d-7b5a3c1e2f40",
    "seq": 1042,
    "receipt_id": "c3a8e2d4-1f0b-4a6c-8e9d-7b5a3c1e2f40",
    "events": [
        {
            "id": "c3a8e2d4-1f0b-4a6c-8e9d-7b5a3c1e2f40",
            "seq": 1042,
            "purpose": "training",
            "action": "give",
            "state": "given",
            "session": None,
            "notice": "0b5c1f0e-8d2a-4c4e-9d7b-2f6a9e1c3d45",
            "occurred_at": "2026-03-01T10:00:00Z",
            "recorded_at": "2026-03-01T10:00:01.250000Z",
            "expires_at": None,
            "receipt": {"receipt": {"version": "KI-CR-v1.1.0"}, "signature": {"alg": "EdDSA"}},
        }
    ],
}


class SpeakerConsents(CollectorView, APIView):
    parser_classes = [JsonParser]

    @extend_schema(
        summary="A speaker's consents now",
        description="One entry per purpose: the speaker's consent for all recordings "
        "(session-scoped recording consents are in a session's clearance). No personal data.",
        tags=TAGS,
        responses={200: shapes.SpeakerConsentsOut, **problems(404)},
    )
    def get(self, request: Request, speaker_id: UUID) -> Response:
        speaker = selectors.get_speaker_for_collector(
            token=self.token(request), public_id=speaker_id
        )
        consents = selectors.general_consents(speaker=speaker)
        now = timezone.now()
        body = {
            "speaker": speaker.public_id,
            "consents": [_consent_now(p, consents.get(p), now) for p in Purpose.values],
        }
        return Response(shapes.SpeakerConsentsOut(body).data)

    @extend_schema(
        summary="Record one consent act",
        description="One act for one purpose: give, refuse, withdraw or renew, through the "
        "same services and rules as the speaker portal (current notice, age, evidence "
        "methods, session order); the actor is the platform (the token's prefix). Requires "
        "an `Idempotency-Key`: a retry with the same key and body returns the first answer "
        "(with `Idempotent-Replayed: true`) and records nothing more. 201 when the act "
        "wrote events; 200 when it changed nothing (withdrawing a consent not in force).",
        tags=TAGS,
        parameters=[KEY_PARAMETER, REPLAYED_HEADER],
        request=shapes.ConsentActIn,
        responses={
            201: shapes.ConsentActOut,
            200: OpenApiResponse(shapes.ConsentActOut, description="Nothing changed."),
            **problems(400, 404, 409, 410, 415, 422),
        },
        examples=[
            OpenApiExample("Give training consent", request_only=True, value=ACT_EXAMPLE),
            OpenApiExample(
                "Withdraw biometric consent",
                request_only=True,
                value={
                    "action": "withdraw",
                    "purpose": "biometric",
                    "evidence": {"method": "web_form"},
                },
            ),
            OpenApiExample("Given", response_only=True, status_codes=["201"], value=ACT_ANSWER),
        ],
    )
    def post(self, request: Request, speaker_id: UUID) -> Response:
        idempotent = IdempotentRequest.of(request)
        if (replay := idempotent.replay()) is not None:
            return replay
        token = self.token(request)
        speaker = selectors.get_speaker_for_collector(token=token, public_id=speaker_id)
        data = _valid(shapes.ConsentActIn, request.data)
        action, purpose = data["action"], data["purpose"]
        session = None
        if data.get("session"):
            session = selectors.session_by_public_id(data["session"])
            if session is None:
                raise exceptions.ValidationError({"session": ["no such session"]})
        notice = None
        if data.get("notice") and action != ConsentAction.WITHDRAW:
            notice = selectors.notice_by_public_id(data["notice"])
            if notice is None:
                raise exceptions.ValidationError({"notice": ["no such notice"]})
        answer: dict[str, Any] = {}

        def keep_answer(consent: Consent | None, events: list[ConsentEvent]) -> None:
            # Inside the act's transaction: the stored answer commits with the events.
            body = shapes.ConsentActOut(
                _act_answer(speaker, purpose, action, session, consent, events),
                context={"receipts": selectors.receipts_of(events=events)},
            ).data
            answer.update(status=201 if events else 200, body=body)
            idempotent.store(answer["status"], body)

        act: dict[str, Any] = {
            "speaker": speaker,
            "purpose": purpose,
            "evidence": Evidence(**data["evidence"]),
            "actor": Actor(ActorKind.PLATFORM, token.prefix),
            "session": session,
            "on_recorded": keep_answer,
        }
        try:
            if action == ConsentAction.WITHDRAW:
                consent_services.withdraw_consent(**act)
            else:
                ACTS[action](notice=notice, **act)
        except IntegrityError as exc:
            if not idempotent.lost_race(exc):
                raise
            # A twin request with this key committed first; this act was rolled back.
            replay = idempotent.replay()
            if replay is None:
                raise
            return replay
        except RegistryError:
            # A refusal caused by a twin that committed first (e.g. already given): the
            # client asked once, so it gets the twin's answer.
            if (replay := idempotent.replay()) is not None:
                return replay
            raise
        return Response(answer["body"], status=answer["status"])


ACTS: dict[str, Callable[..., Consent]] = {
    ConsentAction.GIVE: consent_services.give_consent,
    ConsentAction.REFUSE: consent_services.refuse_consent,
    ConsentAction.RENEW: consent_services.renew_consent,
}


def _act_answer(
    speaker: Any,
    purpose: str,
    action: str,
    session: Any,
    consent: Consent | None,
    events: list[ConsentEvent],
) -> dict[str, Any]:
    scope = getattr(session, "pk", None)
    own = next((e for e in events if e.session_id == scope), None)
    return {
        "speaker": speaker.public_id,
        "purpose": purpose,
        "action": action,
        "session": session.public_id if session else None,
        "state": consent.state if consent else None,
        "event_id": own.public_id if own else None,
        "seq": own.seq if own else None,
        "receipt_id": own.public_id if own else None,
        "events": events,
        "voiceprint_destruction": (
            voiceprint_destruction(speaker=speaker, withdrawn_at=own.recorded_at)
            if own is not None
            and action == ConsentAction.WITHDRAW
            and purpose == Purpose.BIOMETRIC
            and session is None
            else None
        ),
    }


# --- Notices -----------------------------------------------------------------------


class Notices(CollectorView, APIView):
    @extend_schema(
        summary="The notices to show",
        description="The current notice per purpose for a speaker living in `jurisdiction` "
        "who reads `language`, with the same fallback as the portal (English only where no "
        "rule demands the speaker's own language). At most one per purpose, so not paged.",
        tags=TAGS,
        parameters=[shapes.NoticeQuery],
        responses={200: shapes.NoticesOut, **problems(400)},
        examples=[
            OpenApiExample(
                "Japan, Japanese, recording only",
                response_only=True,
                status_codes=["200"],
                value={
                    "results": [
                        {
                            "id": "0b5c1f0e-8d2a-4c4e-9d7b-2f6a9e1c3d45",
                            "purpose": "recording",
                            "jurisdiction": "JP",
                            "language": "ja",
                            "version": 2,
                            "title": "録音への同意",
                            "body": "…",
                            "allows": "…",
                            "does_not_allow": "…",
                            "retention_schedule": "",
                            "text_sha256": "9f2c" + "0" * 60,
                        }
                    ],
                    "unavailable": [],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = _valid(shapes.NoticeQuery, request.query_params)
        found = selectors.notices_for_place(
            jurisdiction=query["jurisdiction"],
            language=query["language"],
            purposes=[query["purpose"]] if query.get("purpose") else list(Purpose.values),
        )
        body = {
            "results": [f.notice for f in found if f.notice is not None],
            "unavailable": [
                {"purpose": f.purpose, "code": f.unavailable.code, "detail": f.unavailable.detail}
                for f in found
                if f.unavailable is not None
            ],
        }
        return Response(shapes.NoticesOut(body).data)


# --- Sessions ----------------------------------------------------------------------


class Sessions(CollectorView, APIView):
    parser_classes = [JsonParser]

    @extend_schema(
        summary="Open a recording session",
        description="A call to be recorded; participant `i` will be on channel `i`. Each "
        "participant's recording consent for it is recorded as requested. The answer "
        "carries each participant's invitation link (their own page to consent before the "
        "call; a secret: deliver it, never log it); it is shown only here. An existing "
        "`external_ref` is 409 `duplicate`.",
        tags=TAGS,
        parameters=[OPTIONAL_KEY_PARAMETER, REPLAYED_HEADER],
        request=shapes.SessionIn,
        responses={201: shapes.SessionOut, **problems(400, 409, 415)},
        examples=[
            OpenApiExample(
                "Two speakers",
                request_only=True,
                value={
                    "external_ref": "call-2026-03-01-0001",
                    "jurisdiction": "US-CA",
                    "language": "en",
                    "participants": [
                        {"channel": 0, "speaker": "6f1d0a5e-3c1b-4d8e-9a55-0b7c2a1e9f10"},
                        {"channel": 1, "speaker": "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d"},
                    ],
                },
            )
        ],
    )
    @idempotent_create
    def post(self, request: Request) -> Response:
        data = _valid(shapes.SessionIn, request.data)
        wanted = [p["speaker"] for p in data["participants"]]
        speakers = selectors.speakers_by_public_id(wanted)
        unknown = [str(s) for s in wanted if s not in speakers]
        if unknown:
            raise exceptions.ValidationError({"participants": [f"no such speaker: {unknown}"]})
        campaign = None
        if data.get("campaign"):
            campaign = selectors.campaign_by_slug(data["campaign"])
            if campaign is None:
                raise exceptions.ValidationError({"campaign": ["no such campaign"]})
        session = consent_services.create_recording_session(
            external_ref=data["external_ref"],
            jurisdiction=data["jurisdiction"],
            language=data["language"],
            speakers=[speakers[s] for s in wanted],
            invite_valid_for=datetime.timedelta(hours=data["invite_valid_for_hours"]),
            campaign=campaign,
        )
        participants = []
        for participant in selectors.session_participants(session=session):
            link = reverse(
                "speakers:invitation",
                kwargs={"token": consent_services.invitation_token(participant)},
            )
            participants.append(
                {
                    "id": participant.public_id,
                    "channel": participant.channel,
                    "speaker": participant.speaker.public_id,
                    "invitation_url": request.build_absolute_uri(link),
                }
            )
        body = {
            "public_id": session.public_id,
            "external_ref": session.external_ref,
            "jurisdiction": session.jurisdiction,
            "language": session.language,
            "status": session.status,
            "invite_expires_at": session.invite_expires_at,
            "participants": participants,
        }
        return Response(shapes.SessionOut(body).data, status=201)


class SessionClearance(CollectorView, APIView):
    @extend_schema(
        summary="May this call be recorded now?",
        description="Whether every participant has given recording consent covering the "
        "session, and per participant what is still missing.",
        tags=TAGS,
        responses={200: shapes.ClearanceOut, **problems(404)},
    )
    def get(self, request: Request, session_id: UUID) -> Response:
        session = selectors.get_session_for_collector(
            token=self.token(request), public_id=session_id
        )
        now = timezone.now()
        clearance = selectors.session_clearance(session, at=now)
        body = {
            "session": session.public_id,
            "status": session.status,
            "cleared": bool(clearance) and all(p.consented for p in clearance),
            "blocked": any(p.blocked for p in clearance),
            "checked_at": now,
            "participants": [
                {
                    "id": p.participant_id,
                    "channel": p.channel,
                    "speaker": p.speaker_id,
                    "consented": p.consented,
                    "consented_at": p.consented_at,
                    "missing": [] if p.consented or p.blocked else [Purpose.RECORDING],
                    "erased": p.blocked == ParticipantClosedReason.ERASED,
                    "blocked": p.blocked or None,
                }
                for p in clearance
            ],
        }
        return Response(shapes.ClearanceOut(body).data)


# --- Recordings --------------------------------------------------------------------

RECORDING_EXAMPLE = {
    "session": "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
    "external_ref": "call-2026-03-01-0001",
    "recorded_at": "2026-03-01T10:05:00Z",
    "duration_ms": 1800000,
    "sample_rate_hz": 16000,
    "channel_count": 2,
    "isolated_at_source": True,
    "audio_uri": "s3://platform-audio/call-2026-03-01-0001.flac",
    "audio_sha256": "3b" * 32,
    "tracks": [
        {"channel": 0, "speaker": "6f1d0a5e-3c1b-4d8e-9a55-0b7c2a1e9f10"},
        {"channel": 1, "speaker": "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d"},
    ],
}


def _recording_line(number: int, data: dict[str, Any]) -> RecordingLine:
    return RecordingLine(
        line=number,
        session=data["session"],
        external_ref=data["external_ref"].strip(),
        recorded_at=data["recorded_at"],
        duration_ms=data["duration_ms"],
        sample_rate_hz=data["sample_rate_hz"],
        channel_count=data["channel_count"],
        isolated_at_source=data["isolated_at_source"],
        tracks=tuple((t["channel"], t["speaker"]) for t in data["tracks"]),
        language=data.get("language", ""),
        jurisdiction=data.get("jurisdiction", ""),
        audio_uri=data.get("audio_uri", "").strip(),
        audio_sha256=data.get("audio_sha256", ""),
    )


class Recordings(CollectorView, APIView):
    required_scope = TokenScope.INGEST.value
    parser_classes = [JsonParser]

    @extend_schema(
        summary="Ingest a recording",
        description="A call made in a cleared session: one track per participant on their "
        "channel. Refused unless every participant's recording consent was given before "
        "`recorded_at` and is still in force (409 `recording_consent_missing`, naming the "
        "channel), the session is still waiting to record (409 `session_not_open`), the "
        "tracks match its participants (422 `tracks_mismatch`) and the `external_ref` is "
        "new (409 `duplicate`). With `audio_uri` and `audio_sha256` the recording is "
        "available at once. With an `Idempotency-Key`, a retry after a lost answer gets "
        "the first answer back.",
        tags=TAGS,
        parameters=[OPTIONAL_KEY_PARAMETER, REPLAYED_HEADER],
        request=shapes.RecordingIn,
        responses={201: shapes.RecordingOut, **problems(400, 409, 410, 415, 422)},
        examples=[OpenApiExample("A cleared call", request_only=True, value=RECORDING_EXAMPLE)],
    )
    @idempotent_create
    def post(self, request: Request) -> Response:
        line = _recording_line(1, _valid(shapes.RecordingIn, request.data))
        done = ingest_recording(line=line)
        return Response(shapes.RecordingOut(_recording_answer(done)).data, status=201)


def _recording_answer(done: IngestedRecording) -> dict[str, Any]:
    recording = done.recording
    return {
        "id": recording.public_id,
        "external_ref": recording.external_ref,
        "session": done.session.public_id,
        "status": recording.status,
        "recorded_at": recording.recorded_at,
        "channel_count": recording.channel_count,
        "tracks": [
            {"id": t.public_id, "channel": t.channel, "speaker": t.speaker.public_id}
            for t in done.tracks
        ],
    }


class PayloadTooLarge(RegistryError):
    code = "payload_too_large"
    status = 413


class InvalidJsonLine(RegistryError):
    code = "invalid_json"


class NdjsonParser(BaseParser):
    """``application/x-ndjson``: one JSON object per line; ``lines`` holds (line number,
    text) for each non-blank line. At most 10 MB and 5,000 lines (413 beyond)."""

    media_type = "application/x-ndjson"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> dict[str, list[tuple[int, str]]]:
        raw = stream.read(MAX_BULK_BYTES + 1)
        if len(raw) > MAX_BULK_BYTES:
            raise PayloadTooLarge(f"an upload holds at most {MAX_BULK_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError("the upload is not UTF-8") from exc
        lines = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
        if len(lines) > MAX_BATCH_LINES:
            raise PayloadTooLarge(f"an upload holds at most {MAX_BATCH_LINES} lines")
        return {"lines": lines}


def _batch_problem(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The problem for a rejected batch names every rejected line."""
    if isinstance(exc, BatchRejected):
        return problem(
            exc.status, exc.code, exc.detail, lines=[r.as_problem() for r in exc.rejections]
        )
    return problem_exception_handler(exc, context)


class RecordingsBulk(CollectorView, APIView):
    required_scope = TokenScope.INGEST.value
    parser_classes = [NdjsonParser]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return _batch_problem

    @extend_schema(
        summary="Ingest recordings in bulk (JSON lines)",
        description="Body: `application/x-ndjson`, one recording per line, shaped as for "
        "`POST recordings/`; at most 10 MB and 5,000 lines (413). All or nothing: every "
        "line is checked with the same rules; if any fails, nothing is written and the 422 "
        "`batch_rejected` problem lists every rejected line (`line`, `code`, `status`, "
        "`detail`, `field`). Otherwise all are written in one transaction.",
        tags=TAGS,
        parameters=[OPTIONAL_KEY_PARAMETER, REPLAYED_HEADER],
        request={"application/x-ndjson": OpenApiTypes.STR},
        responses={
            201: shapes.BulkOut,
            (422, PROBLEM): OpenApiResponse(
                shapes.BatchProblem, description="At least one line was rejected; nothing written."
            ),
            **problems(400, 413, 415),
        },
        examples=[
            OpenApiExample(
                "One line rejected",
                response_only=True,
                status_codes=["422"],
                value={
                    "type": "about:blank",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "code": "batch_rejected",
                    "detail": "1 of 50 line(s) rejected; nothing was written",
                    "lines": [
                        {
                            "line": 17,
                            "code": "recording_consent_missing",
                            "status": 409,
                            "detail": "recording consent of the speaker on channel(s) [1] was "
                            "not given before recorded_at or is no longer in force",
                            "field": "tracks[1]",
                        }
                    ],
                },
            ),
            OpenApiExample(
                "All written",
                response_only=True,
                status_codes=["201"],
                value={
                    "count": 1,
                    "recordings": [
                        {
                            "line": 1,
                            "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
                            "external_ref": "call-2026-03-01-0001",
                        }
                    ],
                },
            ),
        ],
    )
    @idempotent_create
    def post(self, request: Request) -> Response:
        upload = request.data.get("lines") if isinstance(request.data, dict) else None
        if not upload:
            raise InvalidInput("the upload holds no lines", field="body")
        good: list[RecordingLine] = []
        malformed: list[LineRejection] = []
        shape = shapes.RecordingIn()  # one instance for every line: its fields are built once
        for number, text in upload:
            try:
                data = shape.run_validation(json.loads(text, object_pairs_hook=members_once))
            except (ValueError, RecursionError):
                malformed.append(LineRejection(number, InvalidJsonLine("this line is not JSON")))
            except (UnknownMembers, DuplicateMembers) as exc:
                malformed.append(LineRejection(number, exc))
            except exceptions.ValidationError as exc:
                detail: Any = exc.detail
                errors = dict(detail) if isinstance(detail, dict) else {"line": detail}
                malformed.append(
                    LineRejection(
                        number, InvalidInput("this line is not valid; see errors"), errors=errors
                    )
                )
            else:
                good.append(_recording_line(number, data))
        done = ingest_recordings(lines=good, malformed=malformed)
        body = {
            "count": len(done),
            "recordings": [
                {
                    "line": d.line,
                    "id": d.recording.public_id,
                    "external_ref": d.recording.external_ref,
                }
                for d in done
            ],
        }
        return Response(shapes.BulkOut(body).data, status=201)
