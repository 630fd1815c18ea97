"""Eligibility: may a recording (and its tracks) be used for a purpose now?

The one rule, decided here and nowhere else: a recording is eligible for a purpose at
``at`` when its audio is available and, for **every** track,
  - the track's speaker has a valid recording consent given no later than the
    recording's ``recorded_at`` (consent after the call does not count), and
  - the track's speaker has a valid consent for the purpose,
where a consent is *valid* at ``at`` when its state is given or renewed, it was given
at or before ``at``, it has not expired by ``at``, and it covers all recordings or the
recording session this recording came from.

Everything is a set-based SQL query (EXISTS subqueries on indexed columns), so the same
code answers for one recording or for millions; ``explain_eligibility`` annotates the
same expressions onto one recording's tracks to give reasons.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from consent.models import VALID_STATES, Consent, ConsentState, ErasureRequest, Purpose
from registry.models import Recording, RecordingStatus, Track


def valid_consents(*, purpose: str, at: datetime.datetime) -> QuerySet[Consent]:
    """Consent rows that count for ``purpose`` at ``at`` (any scope)."""
    if purpose not in Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    return Consent.objects.filter(purpose=purpose, state__in=VALID_STATES, given_at__lte=at).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=at)
    )


def _covering(purpose: str, at: datetime.datetime, *, given_by: Any = None) -> Exists:
    """EXISTS a valid consent of the outer track's speaker covering its recording."""
    consents = valid_consents(purpose=purpose, at=at).filter(
        Q(session__isnull=True) | Q(recording=OuterRef("recording_id")),
        speaker=OuterRef("speaker_id"),
    )
    if given_by is not None:
        consents = consents.filter(given_at__lte=given_by)
    return Exists(consents)


def track_recording_consent_ok(track: Track, *, at: datetime.datetime) -> bool:
    """Whether the track's speaker has recording consent covering its call at ``at``
    (given before the call): the condition for storing that channel's audio."""
    recorded_at = Recording.objects.values_list("recorded_at", flat=True).get(pk=track.recording_id)
    return (
        Track.objects.filter(pk=track.pk)
        .filter(_covering(Purpose.RECORDING, at, given_by=recorded_at))
        .exists()
    )


def _track_conditions(purpose: str, at: datetime.datetime, recorded_at: Any) -> dict[str, Exists]:
    return {
        "recording_ok": _covering(Purpose.RECORDING, at, given_by=recorded_at),
        "purpose_ok": _covering(purpose, at),
    }


@dataclass(frozen=True)
class RecordingFilters:
    """Optional narrowing of an eligibility query (all conditions must hold)."""

    languages: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    sample_rates_hz: tuple[int, ...] = ()
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    isolated_at_source: bool | None = None
    recorded_from: datetime.datetime | None = None
    recorded_before: datetime.datetime | None = None

    def apply(self, recordings: QuerySet[Recording]) -> QuerySet[Recording]:
        if self.languages:
            recordings = recordings.filter(language__in=self.languages)
        if self.jurisdictions:
            recordings = recordings.filter(jurisdiction__in=self.jurisdictions)
        if self.sample_rates_hz:
            recordings = recordings.filter(sample_rate_hz__in=self.sample_rates_hz)
        if self.min_duration_ms is not None:
            recordings = recordings.filter(duration_ms__gte=self.min_duration_ms)
        if self.max_duration_ms is not None:
            recordings = recordings.filter(duration_ms__lte=self.max_duration_ms)
        if self.isolated_at_source is not None:
            recordings = recordings.filter(isolated_at_source=self.isolated_at_source)
        if self.recorded_from is not None:
            recordings = recordings.filter(recorded_at__gte=self.recorded_from)
        if self.recorded_before is not None:
            recordings = recordings.filter(recorded_at__lt=self.recorded_before)
        return recordings


def eligible_recordings(
    *,
    purpose: str,
    at: datetime.datetime | None = None,
    filters: RecordingFilters | None = None,
) -> QuerySet[Recording]:
    """Recordings every participant's consent covers for ``purpose`` at ``at``."""
    at = at or timezone.now()
    conditions = _track_conditions(purpose, at, OuterRef(OuterRef("recorded_at")))
    uncovered = Track.objects.filter(recording=OuterRef("pk")).filter(
        ~conditions["recording_ok"] | ~conditions["purpose_ok"]
    )
    recordings = Recording.objects.filter(status=RecordingStatus.AVAILABLE).filter(
        ~Exists(uncovered)
    )
    return (filters or RecordingFilters()).apply(recordings)


def eligible_for_all(
    *,
    purposes: list[str] | tuple[str, ...],
    at: datetime.datetime | None = None,
    filters: RecordingFilters | None = None,
) -> QuerySet[Recording]:
    """Recordings every participant's consent covers for *each* of ``purposes`` at
    ``at`` (a dataset needing training and redistribution needs both from everyone).
    One query: no track of the recording may lack recording consent or any purpose."""
    if not purposes:
        raise ValueError("at least one purpose")
    at = at or timezone.now()
    recorded_at = OuterRef(OuterRef("recorded_at"))
    lacking = Q(~_covering(Purpose.RECORDING, at, given_by=recorded_at))
    for purpose in purposes:
        lacking |= Q(~_covering(purpose, at))
    uncovered = Track.objects.filter(recording=OuterRef("pk")).filter(lacking)
    recordings = Recording.objects.filter(status=RecordingStatus.AVAILABLE).filter(
        ~Exists(uncovered)
    )
    return (filters or RecordingFilters()).apply(recordings)


def eligible_tracks(
    *,
    purpose: str,
    at: datetime.datetime | None = None,
    filters: RecordingFilters | None = None,
) -> QuerySet[Track]:
    """Tracks of eligible recordings (a track is never usable without its partner's consent)."""
    return Track.objects.filter(
        recording__in=eligible_recordings(purpose=purpose, at=at, filters=filters).values("pk")
    )


@dataclass
class ParticipantVerdict:
    channel: int
    speaker_id: str
    recording_consent_ok: bool
    purpose_ok: bool
    reasons: list[str] = field(default_factory=list)
    # The facts the reasons name (``latest_fact``), for callers that word them
    # themselves (the portal, in the reader's language).
    recording_fact: LatestFact | None = None
    purpose_fact: LatestFact | None = None
    audio_deleted_at: datetime.datetime | None = None


@dataclass
class EligibilityExplanation:
    recording_id: str
    purpose: str
    at: datetime.datetime
    eligible: bool
    reasons: list[str]
    participants: list[ParticipantVerdict]


@dataclass(frozen=True)
class LatestFact:
    """The most recent thing a participant did about one purpose, as it bears on one
    recording: a consent row's current state (general, or for this call) or an erasure
    request (which withdrew everything at once)."""

    consent: Consent | None = None
    erasure_requested_at: datetime.datetime | None = None
    erased_at: datetime.datetime | None = None

    @property
    def is_erasure(self) -> bool:
        return self.erasure_requested_at is not None


def latest_fact(
    consents: list[Consent],
    *,
    erasure_requested_at: datetime.datetime | None = None,
    erased_at: datetime.datetime | None = None,
) -> LatestFact:
    """The one ordering rule for "why": the newest fact wins, so a withdrawal or an
    erasure is never hidden behind an older call-specific request. Among consent rows
    (this participant's, for one purpose, general or scoped to the recording's session)
    the latest ``state_since`` wins, and on a tie the session-scoped row (the more
    specific). An erasure request withdraws every consent at the moment it is filed, so
    it wins over every row not changed after it."""
    newest = max(
        consents,
        key=lambda c: (c.state_since, c.session_id is not None),
        default=None,
    )
    if erasure_requested_at is not None and (
        newest is None or newest.state_since <= erasure_requested_at
    ):
        return LatestFact(erasure_requested_at=erasure_requested_at, erased_at=erased_at)
    return LatestFact(consent=newest)


def _erasure_phrase(fact: LatestFact) -> str:
    requested = fact.erasure_requested_at
    phrase = (
        f"asked on {requested.date().isoformat()} for their data to be erased"
        if requested is not None
        else "asked for their data to be erased"
    )
    if fact.erased_at is not None:
        phrase += f" (erased on {fact.erased_at.date().isoformat()})"
    return phrase


def _state_phrase(consent: Consent | None, purpose: str, at: datetime.datetime) -> str:
    if consent is None:
        return f"has not given {purpose} consent"
    day = consent.state_since.date().isoformat()
    if consent.state in VALID_STATES:
        if consent.expires_at is not None and consent.expires_at <= at:
            return f"{purpose} consent expired on {consent.expires_at.date().isoformat()}"
        if consent.given_at is not None and consent.given_at > at:
            return f"gave {purpose} consent only on {consent.given_at.date().isoformat()}"
        return f"gave {purpose} consent on {day}"
    verbs = {
        ConsentState.WITHDRAWN: "withdrew",
        ConsentState.REFUSED: "refused",
        ConsentState.EXPIRED: "let expire",
        ConsentState.REQUESTED: "was asked for but has not given",
    }
    return f"{verbs.get(ConsentState(consent.state), consent.state)} {purpose} consent on {day}"


def _participant_fact(
    scopes: dict[tuple[int, str], list[Consent]], track: Mapping[str, Any], purpose: str
) -> LatestFact:
    return latest_fact(
        scopes.get((track["speaker_id"], purpose), []),
        erasure_requested_at=track["erasure_requested_at"],
        erased_at=track["speaker__erased_at"],
    )


def explain_eligibility(
    recording: Recording, purpose: str, at: datetime.datetime | None = None
) -> EligibilityExplanation:
    """The verdict of ``eligible_recordings`` for one recording, with a reason per
    participant naming their most recent fact (``latest_fact``). Two queries; names no
    one: speakers appear by channel and public id."""
    at = at or timezone.now()
    conditions = _track_conditions(purpose, at, recording.recorded_at)
    latest_erasure = ErasureRequest.objects.filter(speaker=OuterRef("speaker_id")).order_by(
        "-requested_at"
    )
    tracks = list(
        Track.objects.filter(recording=recording)
        .annotate(
            recording_ok=conditions["recording_ok"],
            purpose_ok=conditions["purpose_ok"],
            erasure_requested_at=Subquery(latest_erasure.values("requested_at")[:1]),
        )
        .values(
            "channel",
            "speaker_id",
            "speaker__public_id",
            "speaker__erased_at",
            "audio_deleted_at",
            "recording_ok",
            "purpose_ok",
            "erasure_requested_at",
        )
        .order_by("channel")
    )
    rows = Consent.objects.filter(
        Q(session__isnull=True) | Q(recording=recording),
        speaker_id__in=[t["speaker_id"] for t in tracks],
        purpose__in={Purpose.RECORDING, purpose},
    ).only("speaker_id", "purpose", "session_id", "state", "state_since", "given_at", "expires_at")
    scopes: dict[tuple[int, str], list[Consent]] = {}
    for row in rows:
        scopes.setdefault((row.speaker_id, row.purpose), []).append(row)

    participants = []
    withdrawn_voices = False
    for track in tracks:
        verdict = ParticipantVerdict(
            channel=track["channel"],
            speaker_id=str(track["speaker__public_id"]),
            recording_consent_ok=track["recording_ok"],
            purpose_ok=track["purpose_ok"],
        )
        who = f"speaker on channel {track['channel']}"
        recording_fact = _participant_fact(scopes, track, Purpose.RECORDING)
        purpose_fact = _participant_fact(scopes, track, purpose)
        verdict.recording_fact, verdict.purpose_fact = recording_fact, purpose_fact
        verdict.audio_deleted_at = track["audio_deleted_at"]
        if not verdict.recording_consent_ok:
            withdrawn_voices = True
            recording_consent = recording_fact.consent
            if recording_fact.is_erasure:
                verdict.reasons.append(f"{who} {_erasure_phrase(recording_fact)}")
            elif (
                recording_consent is not None
                and recording_consent.state in VALID_STATES
                and recording_consent.given_at is not None
                and recording_consent.given_at > recording.recorded_at
            ):
                verdict.reasons.append(
                    f"{who} gave recording consent on "
                    f"{recording_consent.given_at.date().isoformat()}, after the call on "
                    f"{recording.recorded_at.date().isoformat()}"
                )
            else:
                verdict.reasons.append(
                    f"{who} {_state_phrase(recording_consent, Purpose.RECORDING, at)}"
                )
        if not verdict.purpose_ok and purpose != Purpose.RECORDING:
            if purpose_fact.is_erasure:
                reason = f"{who} {_erasure_phrase(purpose_fact)}"
            else:
                reason = f"{who} {_state_phrase(purpose_fact.consent, purpose, at)}"
            if reason not in verdict.reasons:  # one erasure, said once
                verdict.reasons.append(reason)
        participants.append(verdict)

    # A channel destroyed because the call was not isolated at source: its own speaker's
    # consent may be in order, but it carried a withdrawn or erased voice.
    for track, verdict in zip(tracks, participants, strict=True):
        deleted = track["audio_deleted_at"]
        if deleted is None or deleted > at:
            continue
        why = (
            ": the call was not isolated at source and it carried another participant's "
            "withdrawn voice"
            if not recording.isolated_at_source
            and verdict.recording_consent_ok
            and withdrawn_voices
            else ""
        )
        verdict.reasons.append(
            f"audio of channel {track['channel']} was destroyed on "
            f"{deleted.date().isoformat()}{why}"
        )

    reasons = [reason for p in participants for reason in p.reasons]
    if recording.status != RecordingStatus.AVAILABLE:
        reasons.insert(0, f"audio is not available (status: {recording.status})")
    eligible = (
        recording.status == RecordingStatus.AVAILABLE
        and bool(participants)
        and all(p.recording_consent_ok and p.purpose_ok for p in participants)
    )
    if eligible:
        reasons = [f"every participant's consent covers {purpose}"]
    return EligibilityExplanation(
        recording_id=str(recording.public_id),
        purpose=purpose,
        at=at,
        eligible=eligible,
        reasons=reasons,
        participants=participants,
    )


@dataclass(frozen=True)
class Usability:
    """One purpose for one recording, seen from one speaker's track."""

    eligible: bool  # the recording may be used for the purpose now
    own_consent_ok: bool  # this speaker's own consents cover it


def recording_usability(
    *, speaker_id: int, recording_ids: list[int], at: datetime.datetime | None = None
) -> dict[int, dict[str, Usability]]:
    """For each recording and purpose: eligible now, and whether the speaker's own
    consent is what covers it (or what blocks it). One query per purpose, whatever
    the number of recordings; the same expressions as ``eligible_recordings``."""
    at = at or timezone.now()
    result: dict[int, dict[str, Usability]] = {rid: {} for rid in recording_ids}
    for purpose in Purpose.values:
        conditions = _track_conditions(purpose, at, OuterRef("recording__recorded_at"))
        tracks = (
            Track.objects.filter(recording_id__in=recording_ids)
            .annotate(recording_ok=conditions["recording_ok"], purpose_ok=conditions["purpose_ok"])
            .values("recording_id", "speaker_id", "recording__status", "recording_ok", "purpose_ok")
        )
        verdicts: dict[int, list[tuple[int, bool, str]]] = {}
        for row in tracks:
            verdicts.setdefault(row["recording_id"], []).append(
                (
                    row["speaker_id"],
                    bool(row["recording_ok"] and row["purpose_ok"]),
                    row["recording__status"],
                )
            )
        for recording_id, rows in verdicts.items():
            available = rows[0][2] == RecordingStatus.AVAILABLE
            result[recording_id][purpose] = Usability(
                eligible=available and all(ok for _, ok, _ in rows),
                own_consent_ok=any(ok for sid, ok, _ in rows if sid == speaker_id),
            )
    return result


@dataclass(frozen=True)
class Coverage:
    """How many of a set of recordings are eligible for each purpose."""

    total: int
    covered: dict[str, int]

    def share(self, purpose: str) -> float:
        return round(self.covered[purpose] / self.total, 4) if self.total else 0.0

    def complete(self, purpose: str) -> bool:
        return self.total > 0 and self.covered[purpose] == self.total


GROUP_COLUMNS = (
    "channel_count",
    "language",
    "sample_rate_hz",
    "jurisdiction",
    "isolated_at_source",
)


@dataclass(frozen=True)
class CoverageGroup:
    """Counts for the recordings sharing one combination of ``GROUP_COLUMNS``."""

    key: dict[str, Any]
    recordings: int
    tracks: int
    duration_ms: int
    speaker_ms: int  # duration x tracks: recorded speaker-time
    first_recorded_at: datetime.datetime | None
    last_recorded_at: datetime.datetime | None
    covered: dict[str, int]  # purpose: recordings eligible for it


def coverage_groups(
    tracks_sql: str, tracks_params: list[Any], *, at: datetime.datetime
) -> list[CoverageGroup]:
    """The eligibility rule of ``eligible_recordings`` counted for every purpose at once
    over a set of tracks (``tracks_sql`` selects ``track_id, recording_id``; every track
    of each recording), grouped by the recordings' ``GROUP_COLUMNS``, in one pass: each
    speaker's valid general consents are folded into one row (when recording consent was
    given; which purposes are valid), session-scoped ones into one row per speaker and
    recording, and every track is joined to both once. A release of millions of
    recordings is counted with a few hash joins instead of one anti-join per purpose.
    ``tests/consent/test_corpus.py`` holds it equal to ``eligible_recordings``."""
    from django.db import connection

    purposes = [p for p in Purpose.values if p != Purpose.RECORDING]
    folded = "".join(f", bool_or(c.purpose = %s) AS ok_{i}" for i in range(len(purposes)))
    per_track = "".join(
        f", coalesce(g.ok_{i}, false) OR coalesce(s.ok_{i}, false) AS ok_{i}"
        for i in range(len(purposes))
    )
    per_recording = "".join(f", bool_and(ok_{i}) AS all_{i}" for i in range(len(purposes)))
    counts = "".join(f", count(*) FILTER (WHERE usable AND all_{i})" for i in range(len(purposes)))
    group = ", ".join(GROUP_COLUMNS)
    valid = f"""
        SELECT c.speaker_id, c.recording_id,
               min(c.given_at) FILTER (WHERE c.purpose = %s) AS recording_given_at{folded}
          FROM {Consent._meta.db_table} c
         WHERE c.state = ANY(%s) AND c.given_at <= %s
           AND (c.expires_at IS NULL OR c.expires_at > %s)"""  # noqa: S608 - our table
    sql = f"""
        WITH items AS ({tracks_sql}),
        general AS ({valid} AND c.session_id IS NULL GROUP BY c.speaker_id, c.recording_id
        ), scoped AS ({valid} AND c.session_id IS NOT NULL GROUP BY c.speaker_id, c.recording_id
        ), per_track AS (
            SELECT i.recording_id, r.status = %s AS available,
                   coalesce(g.recording_given_at <= r.recorded_at, false)
                   OR coalesce(s.recording_given_at <= r.recorded_at, false) AS recording_ok
                   {per_track}
              FROM items i
              JOIN {Track._meta.db_table} t ON t.id = i.track_id
              JOIN {Recording._meta.db_table} r ON r.id = i.recording_id
              LEFT JOIN general g ON g.speaker_id = t.speaker_id
              LEFT JOIN scoped s
                ON s.speaker_id = t.speaker_id AND s.recording_id = i.recording_id
        ), per_recording AS (
            SELECT recording_id, bool_and(available AND recording_ok) AS usable,
                   count(*) AS tracks {per_recording}
              FROM per_track GROUP BY recording_id
        )
        SELECT {", ".join(f"r.{c}" for c in GROUP_COLUMNS)},
               count(*), sum(p.tracks), sum(r.duration_ms), sum(r.duration_ms * p.tracks),
               min(r.recorded_at), max(r.recorded_at),
               count(*) FILTER (WHERE usable) {counts}
          FROM per_recording p JOIN {Recording._meta.db_table} r ON r.id = p.recording_id
         GROUP BY {", ".join(f"r.{c}" for c in GROUP_COLUMNS)}
         ORDER BY {group}
    """  # noqa: S608 - interpolated: our table names, the caller's SQL, generated columns
    valid_params = [
        str(Purpose.RECORDING),
        *purposes,
        [str(state) for state in VALID_STATES],
        at,
        at,
    ]
    params = [*tracks_params, *valid_params, *valid_params, str(RecordingStatus.AVAILABLE)]
    groups = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            key = dict(zip(GROUP_COLUMNS, row[: len(GROUP_COLUMNS)], strict=True))
            n, tracks, duration, speaker_ms, first, last, usable, *covered = row[
                len(GROUP_COLUMNS) :
            ]
            groups.append(
                CoverageGroup(
                    key=key,
                    recordings=n,
                    tracks=int(tracks or 0),
                    duration_ms=int(duration or 0),
                    speaker_ms=int(speaker_ms or 0),
                    first_recorded_at=first,
                    last_recorded_at=last,
                    covered={
                        str(Purpose.RECORDING): usable,
                        **dict(zip(purposes, covered, strict=True)),
                    },
                )
            )
    return groups


def coverage_of(recordings: QuerySet[Recording], *, at: datetime.datetime) -> Coverage:
    """For every purpose at once: how many of ``recordings`` ``eligible_recordings``
    would return at ``at`` (see ``coverage_groups``)."""
    ids_sql, ids_params = recordings.values("pk").query.sql_with_params()
    tracks_sql = (
        f"SELECT t.id AS track_id, t.recording_id FROM {Track._meta.db_table} t "  # noqa: S608
        f"WHERE t.recording_id IN ({ids_sql})"
    )
    groups = coverage_groups(tracks_sql, list(ids_params), at=at)
    total = recordings.count()
    covered = {p: sum(g.covered[p] for g in groups) for p in Purpose.values}
    return Coverage(total=total, covered=covered)
