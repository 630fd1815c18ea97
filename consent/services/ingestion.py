"""Recordings from the collection platform, one or a batch at a time, all or nothing.

A recording is accepted only from a session still waiting to record, with exactly one
track per participant on that participant's channel, and only while every
participant's recording consent covers it: given no later than ``recorded_at`` and
still in force now (a consent withdrawn or expired since is no licence to keep the
call). Speakers are locked first, in id order (the lock every consent act takes), then
the sessions, so a withdrawal lands either before (and the recording is refused) or
after (and its propagation plan finds the recording).

A batch is checked as a whole, with a fixed number of queries whatever its size, and
written with bulk inserts in one transaction; if any line fails, nothing is written
and every failing line is reported.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from consent.errors import ConsentError, SessionNotOpen, SpeakerErased
from consent.models import Consent, RecordingSession, SessionParticipant, SessionStatus
from consent.selectors import recording_consent_since
from consent.services.audio import RecordingConsentMissing
from registry.errors import DuplicateRecord, InvalidInput, RegistryError
from registry.models import Recording, RecordingStatus, Speaker, Track
from registry.services import STORAGE_URI_PREFIX

MAX_BATCH_LINES = 5000


class TracksMismatch(ConsentError):
    """The tracks do not put each participant of the session on their own channel."""

    code = "tracks_mismatch"
    status = 422


class SessionMismatch(ConsentError):
    """The recording says it was made in another language or place than its session."""

    code = "session_mismatch"
    status = 422


@dataclass(frozen=True)
class RecordingLine:
    """One recording as the platform reports it (already well-formed)."""

    line: int
    session: uuid.UUID
    external_ref: str
    recorded_at: datetime.datetime
    duration_ms: int
    sample_rate_hz: int
    channel_count: int
    isolated_at_source: bool
    tracks: tuple[tuple[int, uuid.UUID], ...]  # (channel, speaker public id)
    language: str = ""  # empty: the session's
    jurisdiction: str = ""  # empty: the session's
    audio_uri: str = ""
    audio_sha256: str = ""


@dataclass(frozen=True)
class LineRejection:
    line: int
    error: RegistryError
    errors: dict[str, object] | None = None  # per-field shape errors, when that is why

    def as_problem(self) -> dict[str, object]:
        problem: dict[str, object] = {
            "line": self.line,
            "code": self.error.code,
            "status": self.error.status,
            "detail": self.error.detail,
        }
        if self.error.field:
            problem["field"] = self.error.field
        if self.errors is not None:
            problem["errors"] = self.errors
        if hasattr(self.error, "extensions"):
            problem.update(self.error.extensions())  # e.g. the unknown members, by path
        return problem


class BatchRejected(ConsentError):
    """At least one line failed: nothing was written. ``rejections`` names every line."""

    code = "batch_rejected"
    status = 422

    def __init__(self, rejections: Sequence[LineRejection], *, lines: int) -> None:
        self.rejections = sorted(rejections, key=lambda r: r.line)
        super().__init__(f"{len(self.rejections)} of {lines} line(s) rejected; nothing was written")


@dataclass(frozen=True)
class IngestedRecording:
    line: int
    recording: Recording
    session: RecordingSession
    tracks: list[Track]


def ingest_recording(*, line: RecordingLine) -> IngestedRecording:
    """One recording made in a cleared session (the rules of ``ingest_recordings``);
    a refusal raises its own domain error (e.g. ``recording_consent_missing``)."""
    try:
        return ingest_recordings(lines=[line])[0]
    except BatchRejected as exc:
        raise exc.rejections[0].error from None


def ingest_recordings(
    *, lines: Sequence[RecordingLine], malformed: Sequence[LineRejection] = ()
) -> list[IngestedRecording]:
    """Write every recording of a batch (with its tracks, linked to its session and its
    participants' session-scoped consents) in one transaction, or none of them.

    Each line must name a session still waiting to record (and no other line the same
    session), a new ``external_ref``, a moment not in the future, one track per
    participant on their own channel, and every participant's recording consent must
    have been given no later than ``recorded_at`` and still be in force. ``malformed``:
    lines the caller could not even read; they fail the batch too, but the other lines
    are still checked so the report names every bad line.
    """
    total = len(lines) + len(malformed)
    try:
        # Not durable: the collection API stores an Idempotency-Key answer with it.
        with transaction.atomic():
            batch = _Batch.locked(lines)
            rejections = [*malformed, *batch.check(timezone.now())]
            if rejections:
                raise BatchRejected(rejections, lines=total)
            return batch.write()
    except IntegrityError as exc:
        # Another request registered one of these external_refs between our check and
        # our insert: the unique index decides, as a duplicate.
        if "external_ref" not in str(exc):
            raise
        culprit = next((ln for ln in lines if f"=({ln.external_ref})" in str(exc)), None)
        rejection = LineRejection(
            culprit.line if culprit else 0,
            DuplicateRecord("a recording with this external_ref exists", field="external_ref"),
        )
        raise BatchRejected([rejection], lines=total) from exc


@dataclass
class _Batch:
    lines: Sequence[RecordingLine]
    sessions: dict[uuid.UUID, RecordingSession]
    participants: dict[int, list[SessionParticipant]]  # by session id, in channel order
    speakers: dict[int, Speaker]  # locked, by id
    existing_refs: set[str]

    @classmethod
    def locked(cls, lines: Sequence[RecordingLine]) -> _Batch:
        """Load what the batch names, locking its speakers, then its sessions."""
        session_ids = {ln.session for ln in lines}
        participants = list(
            SessionParticipant.objects.filter(session__public_id__in=session_ids)
            .only("pk", "session_id", "speaker_id", "channel")
            .order_by("session_id", "channel")
        )
        speakers = {
            s.pk: s
            for s in Speaker.objects.select_for_update(no_key=True)
            .filter(pk__in={p.speaker_id for p in participants})
            .only("pk", "public_id", "erased_at")
            .order_by("pk")
        }
        sessions = {
            s.public_id: s
            for s in RecordingSession.objects.select_for_update(no_key=True)
            .filter(public_id__in=session_ids)
            .order_by("pk")
        }
        by_session: dict[int, list[SessionParticipant]] = {}
        for participant in participants:
            by_session.setdefault(participant.session_id, []).append(participant)
        refs = {ln.external_ref for ln in lines}
        existing = set(
            Recording.objects.filter(external_ref__in=refs).values_list("external_ref", flat=True)
        )
        return cls(lines, sessions, by_session, speakers, existing)

    def check(self, now: datetime.datetime) -> list[LineRejection]:
        consented = recording_consent_since(
            session_ids=[s.pk for s in self.sessions.values()], at=now
        )
        rejections = []
        used_sessions: set[uuid.UUID] = set()
        used_refs: set[str] = set()
        for line in self.lines:
            error = self._refusal(line, now, consented, used_sessions, used_refs)
            if error is not None:
                rejections.append(LineRejection(line.line, error))
            used_sessions.add(line.session)
            used_refs.add(line.external_ref)
        return rejections

    def _refusal(
        self,
        line: RecordingLine,
        now: datetime.datetime,
        consented: dict[tuple[int, int], datetime.datetime | None],
        used_sessions: set[uuid.UUID],
        used_refs: set[str],
    ) -> RegistryError | None:
        if line.audio_uri.startswith(STORAGE_URI_PREFIX):
            # Names objects the registry stores (and deletes on withdrawal) itself.
            return InvalidInput(
                f"audio_uri: the {STORAGE_URI_PREFIX!r} scheme is the registry's own",
                field="audio_uri",
            )
        session = self.sessions.get(line.session)
        if session is None:
            return InvalidInput("no such session", field="session")
        if session.status != SessionStatus.OPEN or line.session in used_sessions:
            return SessionNotOpen(
                "this session's recording exists or the session was cancelled", field="session"
            )
        for name in ("language", "jurisdiction"):
            given, expected = getattr(line, name), getattr(session, name)
            if given and given != expected:
                return SessionMismatch(
                    f"{name} {given!r} differs from the session's {expected!r}", field=name
                )
        if line.external_ref in self.existing_refs or line.external_ref in used_refs:
            return DuplicateRecord(
                f"recording {line.external_ref!r} is already registered", field="external_ref"
            )
        if line.recorded_at > now:
            return InvalidInput("recorded_at is in the future", field="recorded_at")
        participants = self.participants.get(session.pk, [])
        mismatch = _track_mismatch(line, participants, self.speakers)
        if mismatch is not None:
            return mismatch
        track_index = {channel: index for index, (channel, _) in enumerate(line.tracks)}
        erased = [p.channel for p in participants if self.speakers[p.speaker_id].erased_at]
        if erased:
            return SpeakerErased(
                f"the speaker on channel(s) {erased} was erased",
                field=f"tracks[{track_index[erased[0]]}]",
            )
        missing = [
            p.channel
            for p in participants
            if (since := consented.get((session.pk, p.speaker_id))) is None
            or since > line.recorded_at
        ]
        if missing:
            return RecordingConsentMissing(
                f"recording consent of the speaker on channel(s) {missing} was not given "
                "before recorded_at or is no longer in force",
                field=f"tracks[{track_index[missing[0]]}]",
            )
        return None

    def write(self) -> list[IngestedRecording]:
        """Bulk inserts and set-based updates: a fixed number of statements per batch."""
        recordings = Recording.objects.bulk_create(
            Recording(
                external_ref=line.external_ref,
                recorded_at=line.recorded_at,
                duration_ms=line.duration_ms,
                sample_rate_hz=line.sample_rate_hz,
                channel_count=line.channel_count,
                isolated_at_source=line.isolated_at_source,
                language=self.sessions[line.session].language,
                jurisdiction=self.sessions[line.session].jurisdiction,
                campaign_id=self.sessions[line.session].campaign_id,
                audio_uri=line.audio_uri,
                audio_sha256=line.audio_sha256,
                # The platform's URI and digest: available at once, as attaching audio does.
                status=RecordingStatus.AVAILABLE
                if line.audio_sha256
                else RecordingStatus.REGISTERED,
            )
            for line in self.lines
        )
        done = []
        for line, recording in zip(self.lines, recordings, strict=True):
            session = self.sessions[line.session]
            tracks = [
                Track(recording=recording, channel=p.channel, speaker=self.speakers[p.speaker_id])
                for p in self.participants[session.pk]
            ]
            session.recording = recording
            session.status = SessionStatus.RECORDING
            done.append(IngestedRecording(line.line, recording, session, tracks))
        Track.objects.bulk_create(t for d in done for t in d.tracks)
        session_ids = [d.session.pk for d in done]
        _link_sessions(session_ids, [d.recording.pk for d in done])
        # Each participant's track, and the recording on session-scoped consents (so
        # eligibility joins tracks to them), as start_recording does for one session.
        SessionParticipant.objects.filter(session_id__in=session_ids).update(
            track_id=Subquery(
                Track.objects.filter(
                    recording__session=OuterRef("session_id"), channel=OuterRef("channel")
                ).values("pk")[:1]
            )
        )
        Consent.objects.filter(session_id__in=session_ids).update(
            recording_id=Subquery(
                RecordingSession.objects.filter(pk=OuterRef("session_id")).values("recording_id")[
                    :1
                ]
            )
        )
        return done


def _link_sessions(session_ids: list[int], recording_ids: list[int]) -> None:
    """Point each session at its recording and mark it recorded, in one statement (an
    ORM bulk update builds a CASE per row, which costs more than the inserts)."""
    table = RecordingSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS s SET recording_id = v.recording_id, status = %s
            FROM unnest(%s::bigint[], %s::bigint[]) AS v(session_id, recording_id)
            WHERE s.id = v.session_id
            """,  # noqa: S608 - the table name is ours; values are parameters
            [SessionStatus.RECORDING.value, session_ids, recording_ids],
        )


def _track_mismatch(
    line: RecordingLine, participants: list[SessionParticipant], speakers: dict[int, Speaker]
) -> TracksMismatch | None:
    """Each participant on their own channel, and nothing else."""
    expected = {p.channel: speakers[p.speaker_id].public_id for p in participants}
    given = dict(line.tracks)
    if line.channel_count != len(expected) or len(given) != len(line.tracks):
        return TracksMismatch(
            f"the session has {len(expected)} participants (channels 0..{len(expected) - 1}); "
            f"the recording has {line.channel_count} channel(s) and {len(line.tracks)} track(s)",
            field="tracks",
        )
    for index, (channel, speaker) in enumerate(line.tracks):
        if expected.get(channel) != speaker:
            return TracksMismatch(
                f"channel {channel}: this speaker is not the session's participant on it",
                field=f"tracks[{index}]",
            )
    return None
