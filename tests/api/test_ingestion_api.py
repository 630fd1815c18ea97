"""Recording ingestion by the collection platform: a recording is accepted only from a
cleared session, with every participant's recording consent given before the call
and still in force; a JSON-lines batch is all or nothing and names every bad line."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consent import services
from consent.api import views
from consent.models import Consent, ConsentEvent, Purpose, RecordingSession, SessionParticipant
from registry import services as registry_services
from registry.errors import InvalidInput
from registry.models import Recording, RecordingStatus, Speaker, TokenScope, Track
from tests.api.helpers import api_client, assert_problem, collector_client, licensee_client
from tests.consent.conftest import give, withdraw
from tests.factories import LicenseeFactory, RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db

INGEST = [TokenScope.INGEST]
NDJSON = "application/x-ndjson"


def counts() -> dict[str, int]:
    return {
        "recordings": Recording.objects.count(),
        "tracks": Track.objects.count(),
        "events": ConsentEvent.objects.count(),
        "consents": Consent.objects.count(),
        "linked participants": SessionParticipant.objects.filter(track__isnull=False).count(),
        "recorded sessions": RecordingSession.objects.filter(recording__isnull=False).count(),
    }


def open_session(*speakers: Speaker, ref: str | None = None) -> RecordingSession:
    return services.create_recording_session(
        external_ref=ref or f"session-{uuid.uuid4()}",
        jurisdiction="US-IL",
        language="en",
        speakers=list(speakers),
    )


def consent_earlier(*speakers: Speaker, session: RecordingSession | None = None) -> None:
    """Recording consent given two hours ago (calls below are recorded 30 minutes ago)."""
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=2)):
        for speaker in speakers:
            give(speaker, Purpose.RECORDING, session=session)


def recording(
    session: RecordingSession, *speakers: Speaker, ref: str | None = None, **extra: Any
) -> dict[str, Any]:
    ref = ref or f"call-{uuid.uuid4()}"
    return {
        "session": str(session.public_id),
        "external_ref": ref,
        "recorded_at": (timezone.now() - datetime.timedelta(minutes=30)).isoformat(),
        "duration_ms": 1_800_000,
        "sample_rate_hz": 16_000,
        "channel_count": len(speakers),
        "isolated_at_source": True,
        "audio_uri": f"s3://platform-audio/{ref}.flac",
        "audio_sha256": "3b" * 32,
        "tracks": [{"channel": c, "speaker": str(s.public_id)} for c, s in enumerate(speakers)],
        **extra,
    }


def ingest(body: dict[str, Any], client: Any = None) -> Any:
    return (client or collector_client(INGEST)).post(
        reverse("api:collector-recordings"), body, format="json"
    )


@pytest.fixture
def pair(notices) -> tuple[Speaker, Speaker]:
    return SpeakerFactory(), SpeakerFactory()


def test_a_call_both_speakers_consented_to_beforehand_is_ingested(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, session=session)  # for this call only
    consent_earlier(b)  # for every call
    response = ingest(recording(session, a, b, ref="call-ok"))
    assert response.status_code == 201, response.content
    stored = Recording.objects.get()
    tracks = list(stored.tracks.order_by("channel"))
    assert response.json() == {
        "id": str(stored.public_id),
        "external_ref": "call-ok",
        "session": str(session.public_id),
        "status": "available",
        "recorded_at": response.json()["recorded_at"],
        "channel_count": 2,
        "tracks": [
            {"id": str(t.public_id), "channel": t.channel, "speaker": str(s.public_id)}
            for t, s in zip(tracks, (a, b), strict=True)
        ],
    }
    assert [(t.channel, t.speaker_id) for t in tracks] == [(0, a.pk), (1, b.pk)]
    assert (stored.status, stored.audio_uri, stored.language, stored.jurisdiction) == (
        RecordingStatus.AVAILABLE,
        "s3://platform-audio/call-ok.flac",
        "en",
        "US-IL",
    )
    session.refresh_from_db()
    assert (session.status, session.recording_id) == ("recording", stored.pk)
    assert sorted(session.participants.values_list("channel", "track_id")) == [
        (0, tracks[0].pk),
        (1, tracks[1].pk),
    ]
    scoped = Consent.objects.get(session=session, speaker=a, purpose="recording")
    assert scoped.recording_id == stored.pk


def test_a_recording_cannot_point_at_audio_the_registry_stores(pair) -> None:
    """``storage:`` names the registry's own objects, which a withdrawal deletes: a
    collector naming another call's file would have it destroyed by its own speaker's
    withdrawal."""
    a, b = pair
    victim = RecordingFactory()
    session = open_session(a, b)
    consent_earlier(a, b)
    before = counts()
    stolen = f"storage:recordings/{victim.public_id}.audio"
    body = assert_problem(ingest(recording(session, a, b, audio_uri=stolen)), 400, "invalid_input")
    assert body["field"] == "audio_uri"
    assert counts() == before
    with pytest.raises(InvalidInput):
        registry_services.attach_recording_audio(
            recording=victim, audio_uri=stolen, audio_sha256="3b" * 32
        )


def test_without_audio_the_recording_is_registered_and_waits_for_it(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    response = ingest(recording(session, a, b, audio_uri="", audio_sha256=""))
    assert response.status_code == 201, response.content
    assert Recording.objects.get().status == RecordingStatus.REGISTERED


def test_a_call_one_participant_never_consented_to_is_refused_naming_the_channel(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a)
    before = counts()
    response = ingest(recording(session, a, b))
    body = assert_problem(response, 409, "recording_consent_missing")
    assert body["field"] == "tracks[1]"
    assert "channel(s) [1]" in body["detail"]
    assert counts() == before
    assert RecordingSession.objects.get().status == "open"


def test_consent_given_after_the_call_does_not_cover_it(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a)
    give(b, Purpose.RECORDING)  # now: after recorded_at
    before = counts()
    body = assert_problem(ingest(recording(session, a, b)), 409, "recording_consent_missing")
    assert body["field"] == "tracks[1]"
    assert counts() == before


def test_consent_withdrawn_since_the_call_refuses_it(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    withdraw(a, Purpose.RECORDING)
    body = assert_problem(ingest(recording(session, a, b)), 409, "recording_consent_missing")
    assert body["field"] == "tracks[0]"
    assert not Recording.objects.exists()


@pytest.mark.parametrize(
    ("shape", "field"),
    [
        ("swapped", "tracks[0]"),
        ("stranger", "tracks[1]"),
        ("three_channels", "tracks"),
        ("one_track", "tracks"),
    ],
)
def test_tracks_must_put_each_participant_on_their_channel(pair, shape: str, field: str) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    body = {
        "swapped": recording(session, b, a),
        "stranger": recording(session, a, SpeakerFactory()),
        "three_channels": recording(session, a, b, channel_count=3),
        "one_track": recording(session, a),
    }[shape]
    before = counts()
    assert assert_problem(ingest(body), 422, "tracks_mismatch")["field"] == field
    assert counts() == before


def test_a_recording_in_another_language_than_its_session_is_refused(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    body = assert_problem(ingest(recording(session, a, b, language="ja")), 422, "session_mismatch")
    assert body["field"] == "language"
    assert not Recording.objects.exists()


def test_an_external_ref_already_registered_is_a_duplicate(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    RecordingFactory(external_ref="call-dup", speakers=[a, b])
    before = counts()
    body = assert_problem(ingest(recording(session, a, b, ref="call-dup")), 409, "duplicate")
    assert body["field"] == "external_ref"
    assert counts() == before


def test_a_session_records_once(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    assert ingest(recording(session, a, b)).status_code == 201
    before = counts()
    assert_problem(ingest(recording(session, a, b)), 409, "session_not_open")
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"recorded_at": "2026-01-01T10:00:00"}, "invalid_input", "recorded_at"),
        ({"sample_rate_hz": 100}, "invalid_input", "sample_rate_hz"),
        ({"duration_ms": 0}, "invalid_input", "duration_ms"),
        ({"audio_sha256": ""}, "invalid_input", "audio_sha256"),
        ({"audio_sha256": "XYZ"}, "invalid_input", "audio_sha256"),
        ({"tracks": []}, "invalid_input", "tracks"),
        ({"tracks": [{"channel": 0, "speaker": "nobody"}]}, "invalid_input", "tracks"),
        ({"session": "not-a-uuid"}, "invalid_input", "session"),
        ({"external_ref": ""}, "invalid_input", "external_ref"),
    ],
)
def test_malformed_recordings_are_bad_input_and_write_nothing(
    pair, change: dict[str, Any], code: str, field: str
) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    before = counts()
    body = assert_problem(ingest({**recording(session, a, b), **change}), 400, code)
    assert field in body["errors"]
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"session": str(uuid.uuid4())}, "session"),
        ({"recorded_at": (timezone.now() + datetime.timedelta(hours=1)).isoformat()}, None),
    ],
)
def test_unknown_sessions_and_future_calls_are_bad_input(
    pair, change: dict[str, Any], field: str | None
) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    body = assert_problem(ingest({**recording(session, a, b), **change}), 400, "invalid_input")
    assert body["field"] == (field or "recorded_at")
    assert not Recording.objects.exists()


def test_only_an_ingesting_collector_token_may_ingest(pair) -> None:
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    body = recording(session, a, b)
    assert_problem(ingest(body, api_client()), 401, "not_authenticated")
    assert_problem(
        ingest(body, collector_client([TokenScope.WRITE_CONSENT])), 403, "permission_denied"
    )
    assert_problem(ingest(body, licensee_client(LicenseeFactory())), 403, "permission_denied")
    assert not Recording.objects.exists()


# --- Bulk ------------------------------------------------------------------------------


def bulk(lines: list[str], client: Any = None, content_type: str = NDJSON) -> Any:
    return (client or collector_client(INGEST)).post(
        reverse("api:collector-recordings-bulk"),
        ("\n".join(lines) + "\n").encode(),
        content_type=content_type,
    )


def batch(a: Speaker, b: Speaker, size: int, prefix: str = "bulk") -> list[dict[str, Any]]:
    return [recording(open_session(a, b), a, b, ref=f"{prefix}-{n:04d}") for n in range(size)]


def test_fifty_good_lines_make_fifty_recordings_in_one_go(pair) -> None:
    a, b = pair
    consent_earlier(a, b)
    lines = batch(a, b, 50)
    response = bulk([json.dumps(line) for line in lines])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 50
    stored = {r.external_ref: r for r in Recording.objects.all()}
    assert len(stored) == 50
    assert body["recordings"] == [
        {
            "line": n + 1,
            "id": str(stored[f"bulk-{n:04d}"].public_id),
            "external_ref": f"bulk-{n:04d}",
        }
        for n in range(50)
    ]
    assert Track.objects.count() == 100
    assert RecordingSession.objects.filter(status="recording").count() == 50
    assert not SessionParticipant.objects.filter(track__isnull=True).exists()


def test_one_bad_line_among_fifty_writes_nothing_and_is_named(pair) -> None:
    a, b = pair
    consent_earlier(a, b)
    lines = batch(a, b, 50)
    c = SpeakerFactory()  # never gave recording consent
    lines[16] = recording(open_session(a, c), a, c, ref="bulk-bad")
    before = counts()
    response = bulk([json.dumps(line) for line in lines])
    body = assert_problem(response, 422, "batch_rejected")
    assert body["lines"] == [
        {
            "line": 17,
            "code": "recording_consent_missing",
            "status": 409,
            "detail": "recording consent of the speaker on channel(s) [1] was not given "
            "before recorded_at or is no longer in force",
            "field": "tracks[1]",
        }
    ]
    assert body["detail"] == "1 of 50 line(s) rejected; nothing was written"
    assert counts() == before


def test_every_bad_line_is_reported_whatever_is_wrong_with_it(pair) -> None:
    a, b = pair
    consent_earlier(a, b)
    good = batch(a, b, 4)
    text = [
        json.dumps(good[0]),
        "",  # blank lines are skipped but counted
        "{not json",
        json.dumps({**good[1], "sample_rate_hz": 5}),
        json.dumps({**good[2], "external_ref": good[0]["external_ref"]}),
        json.dumps(good[3]),
        json.dumps(good[3] | {"external_ref": "again"}),
    ]
    before = counts()
    body = assert_problem(bulk(text), 422, "batch_rejected")
    assert [(p["line"], p["code"], p.get("field")) for p in body["lines"]] == [
        (3, "invalid_json", None),
        (4, "invalid_input", None),
        (5, "duplicate", "external_ref"),
        (7, "session_not_open", "session"),
    ]
    assert "sample_rate_hz" in body["lines"][1]["errors"]
    assert counts() == before


def test_uploads_beyond_the_limits_are_refused_before_reading_them(pair, monkeypatch) -> None:
    a, b = pair
    consent_earlier(a, b)
    lines = [json.dumps(line) for line in batch(a, b, 3)]
    monkeypatch.setattr(views, "MAX_BATCH_LINES", 2)
    assert_problem(bulk(lines), 413, "payload_too_large")
    monkeypatch.setattr(views, "MAX_BATCH_LINES", 5000)
    monkeypatch.setattr(views, "MAX_BULK_BYTES", 100)
    assert_problem(bulk(lines), 413, "payload_too_large")
    assert not Recording.objects.exists()


def test_bulk_takes_json_lines_only_and_not_nothing(pair) -> None:
    a, b = pair
    consent_earlier(a, b)
    lines = [json.dumps(line) for line in batch(a, b, 1)]
    assert_problem(bulk(lines, content_type="application/json"), 415, "unsupported_media_type")
    assert_problem(bulk([]), 400, "invalid_input")
    assert_problem(bulk(["\xff"], content_type=NDJSON), 422, "batch_rejected")
    response = collector_client(INGEST).post(
        reverse("api:collector-recordings-bulk"), b"\xff\xfe", content_type=NDJSON
    )
    assert_problem(response, 400, "invalid_json")
    assert not Recording.objects.exists()


def test_bulk_needs_an_ingesting_collector_token(pair) -> None:
    a, b = pair
    consent_earlier(a, b)
    lines = [json.dumps(line) for line in batch(a, b, 1)]
    assert_problem(bulk(lines, api_client()), 401, "not_authenticated")
    assert_problem(
        bulk(lines, collector_client([TokenScope.WRITE_CONSENT])), 403, "permission_denied"
    )
    assert_problem(bulk(lines, licensee_client(LicenseeFactory())), 403, "permission_denied")
    assert not Recording.objects.exists()


def test_a_batch_costs_the_same_queries_for_five_lines_or_forty(
    pair, django_assert_max_num_queries
) -> None:
    a, b = pair
    consent_earlier(a, b)
    small = [json.dumps(line) for line in batch(a, b, 5)]
    large = [json.dumps(line) for line in batch(a, b, 40, prefix="large")]
    client = collector_client(INGEST)
    assert bulk(small, client).status_code == 201
    with django_assert_max_num_queries(20):
        assert bulk(large, client).status_code == 201
    assert Recording.objects.count() == 45


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ingested_recordings_pass_the_catalogues_checks_at_commit(notices) -> None:
    # Track coverage is checked by deferred triggers, which only run at a real commit.
    a, b = SpeakerFactory(), SpeakerFactory()
    consent_earlier(a, b)
    assert ingest(recording(open_session(a, b), a, b)).status_code == 201
    assert bulk([json.dumps(line) for line in batch(a, b, 3)]).status_code == 201
    assert Recording.objects.count() == 4
    assert sorted(Track.objects.values_list("channel", flat=True)) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert not SessionParticipant.objects.filter(track__isnull=True).exists()


def test_a_recording_retried_with_its_key_gets_its_ids_back(pair) -> None:
    """After a lost 201 the platform learns the recording and track ids by retrying with
    the same Idempotency-Key (a bare retry would only say 409 duplicate)."""
    a, b = pair
    session = open_session(a, b)
    consent_earlier(a, b)
    client = collector_client(INGEST)
    body = recording(session, a, b, ref="call-retried")
    url = reverse("api:collector-recordings")
    first, again = (
        client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1") for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Recording.objects.count() == 1
    # A bare retry learns only that the session has its recording.
    assert_problem(client.post(url, body, format="json"), 409, "session_not_open")
