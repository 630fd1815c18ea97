"""The plan: every place one withdrawal, expiry or erasure must reach, written
set-based (a handful of INSERT … SELECT statements, whatever the number of recordings)
inside the transaction that wrote the consent event and its outbox row.

What a purpose's withdrawal touches:
  - recording, or an erasure: every release holding the speaker's tracks, the stored
    audio of those tracks (and of the other channels of a call not isolated at source,
    which carry this voice too), and (erasure) the voiceprints and the personal data;
  - biometric: releases built for biometric use, and every voiceprint template;
  - training / redistribution / likeness: releases whose dataset needs that purpose.
Then: every license granting a touched release (its licensee is notified) and every
derived model declared as trained on one (its owner is notified).
A session-scoped consent touches only that session's recording.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from consent.models import VALID_STATES, Consent, ConsentOutbox, OutboxKind, Purpose
from datasetcards.models import Dataset, License, Release, ReleaseItem, ReleaseStatus
from propagation.models import Propagation, PropagationStatus, PropagationTarget
from registry.models import Recording, Track, VoiceprintTemplate
from registry.services import STORAGE_URI_PREFIX

# Releases a licensee may hold copies of: a withdrawn release was already recalled as
# a whole and a failed one never left the registry. One still building has no items
# yet; ``reach_late_release`` adds it when its build ends.
HELD_STATUSES = [ReleaseStatus.CURRENT, ReleaseStatus.TAINTED, ReleaseStatus.SUPERSEDED]

_TARGET = PropagationTarget._meta.db_table
_COLUMNS = (
    "idempotency_key, propagation_id, kind, release_id, license_id, derived_model_id, "
    "track_id, voiceprint_id, status, attempts, next_attempt_at, claim_token, last_error, "
    "created_at"
)


def _values(
    kind: str,
    *,
    propagation: str = "%(propagation)s",
    release: str = "NULL",
    license_: str = "NULL",
    model: str = "NULL",
    track: str = "NULL",
    voiceprint: str = "NULL",
) -> str:
    return (
        f"gen_random_uuid(), {propagation}, '{kind}', {release}, {license_}, {model}, "
        f"{track}, {voiceprint}, 'pending', 0, %(now)s, '', '', %(now)s"
    )


def plan(row: ConsentOutbox) -> Propagation:
    """Write the propagation and all its targets for ``row`` (call inside its
    transaction). Idempotent: a row that already has a plan returns it."""
    existing = Propagation.objects.filter(outbox=row).first()
    if existing is not None:
        return existing
    now = timezone.now()
    if row.kind == OutboxKind.ERASURE:
        erasure = row.erasure_request
        if erasure is None:
            raise ValueError(f"erasure outbox row {row.pk} names no request")
        speaker_id, purpose, session = erasure.speaker_id, "", None
        effective_at = erasure.requested_at
    else:
        event = row.event
        if event is None:
            raise ValueError(f"outbox row {row.pk} names no event")
        speaker_id, purpose, session = event.speaker_id, event.purpose, event.session
        effective_at = event.recorded_at
    within_erasure = bool((row.payload or {}).get("within_erasure"))
    everything = row.kind == OutboxKind.ERASURE or purpose == Purpose.RECORDING
    params: dict[str, Any] = {
        "now": now,
        "speaker": speaker_id,
        "purpose": purpose,
        "everything": everything,
        "held": [str(s) for s in HELD_STATUSES],
        "valid": [str(s) for s in VALID_STATES],
        "scoped": session is not None,
        "recording": session.recording_id if session is not None else None,
        "in_storage": STORAGE_URI_PREFIX + "%",
        "effective_at": effective_at,
    }
    # The recordings this act takes the speaker's voice out of, frozen on the plan so
    # every notice and erratum names the same set on every attempt: the speaker's
    # calls (one call for a session-scoped consent), except those another consent of
    # theirs still covers for the purpose (a general consent next to a withdrawn
    # session one, or the reverse) — the same rule as eligibility.
    recordings: list[int] = []
    if not within_erasure:
        with connection.cursor() as cursor:
            cursor.execute(_RECORDINGS_SQL, params)
            recordings = [r for (r,) in cursor.fetchall()]
    propagation = Propagation.objects.create(
        outbox=row,
        kind=row.kind,
        speaker_id=speaker_id,
        purpose=purpose,
        session=session,
        erasure_request=row.erasure_request,
        effective_at=effective_at,
        recording_ids=recordings,
        within_erasure=within_erasure,
    )
    params |= {"propagation": propagation.pk, "recordings": recordings, "release": None}
    statements = (
        [_RELEASES_SQL, _HOLDERS_SQL["license"], _HOLDERS_SQL["model"]] if recordings else []
    )
    if everything and recordings:
        statements.append(_AUDIO_SQL)
    if not within_erasure and (
        row.kind == OutboxKind.ERASURE or (purpose == Purpose.BIOMETRIC and session is None)
    ):
        # Templates are not tied to calls: only a general biometric withdrawal (or an
        # erasure) destroys them. Their purpose ends with the consent, so they are also
        # due for the retention job from now on: if the target cannot finish, the next
        # run destroys them (the deadline the withdrawal's confirmation states).
        statements += [_VOICEPRINTS_SQL, _VOICEPRINTS_DUE_SQL]
    if row.kind == OutboxKind.ERASURE:
        statements.append(f"INSERT INTO {_TARGET} ({_COLUMNS}) SELECT {_values('personal_data')}")
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, params)
    if not PropagationTarget.objects.filter(propagation=propagation).exists():
        propagation.status = PropagationStatus.COMPLETED
        propagation.completed_at = now
        propagation.save(update_fields=["status", "completed_at"])
    return propagation


def extend_to_holders(*, propagation: Propagation, release_id: int) -> list[int]:
    """Targets for licenses and models that came to hold ``release_id`` after the plan
    was written (a release still building then, licensed at the end of its build).
    Idempotent (the unique constraints skip existing targets); returns the new ids."""
    params: dict[str, Any] = {
        "propagation": propagation.pk,
        "now": timezone.now(),
        "release": release_id,
    }
    new: list[int] = []
    with connection.cursor() as cursor:
        for sql in _HOLDERS_SQL.values():
            cursor.execute(sql, params)
            new += [r for (r,) in cursor.fetchall()]
    return new


def reach_late_release(*, release: Release) -> list[int]:
    """Called as ``release`` is marked built: its eligibility was decided at ``as_of``,
    so every propagation effective after that whose recordings it holds (and whose
    purpose its dataset needs) gets a target for it. Reopens those propagations;
    returns the new target ids (licenses and models follow when it is tainted)."""
    params: dict[str, Any] = {
        "release": release.pk,
        "as_of": release.as_of,
        "now": timezone.now(),
        "purposes": list(release.dataset.intended_purposes),
    }
    with connection.cursor() as cursor:
        cursor.execute(_LATE_RELEASE_SQL, params)
        new = [r for (r,) in cursor.fetchall()]
    if new:
        Propagation.objects.filter(targets__id__in=new, status=PropagationStatus.COMPLETED).update(
            status=PropagationStatus.OPEN, completed_at=None
        )
    return new


# Interpolated below: table names from the models and generated placeholders only.
_TRACK = Track._meta.db_table
_RECORDING = Recording._meta.db_table
_CONSENT = Consent._meta.db_table
_RELEASE = Release._meta.db_table
_DATASET = Dataset._meta.db_table
_ITEM = ReleaseItem._meta.db_table
_LICENSE_RELEASES = License.releases.through._meta.db_table
_MODEL_RELEASES = Release.derived_models.through._meta.db_table

_RECORDINGS_SQL = f"""
    SELECT DISTINCT t.recording_id FROM {_TRACK} t JOIN {_RECORDING} r ON r.id = t.recording_id
     WHERE t.speaker_id = %(speaker)s
       AND (NOT %(scoped)s OR t.recording_id = %(recording)s)
       AND NOT EXISTS (
           SELECT 1 FROM {_CONSENT} c
            WHERE c.speaker_id = t.speaker_id
              AND (c.purpose = %(purpose)s OR (%(everything)s AND c.purpose = 'recording'))
              AND c.state = ANY(%(valid)s) AND c.given_at <= %(now)s
              AND (c.expires_at IS NULL OR c.expires_at > %(now)s)
              AND (c.purpose <> 'recording' OR c.given_at <= r.recorded_at)
              AND (c.session_id IS NULL OR c.recording_id = t.recording_id))
    ORDER BY t.recording_id"""  # noqa: S608

_RELEASES_SQL = f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("release", release="r.id")}
      FROM {_RELEASE} r JOIN {_DATASET} d ON d.id = r.dataset_id
     WHERE r.status = ANY(%(held)s)
       AND (%(everything)s OR %(purpose)s = ANY(d.intended_purposes))
       AND r.id IN (SELECT i.release_id FROM {_ITEM} i
                     WHERE i.recording_id = ANY(%(recordings)s))"""  # noqa: S608

# Every license and every model holding one of the propagation's releases (or only
# ``%(release)s`` when given: a release that came to be held after the plan); the
# unique constraints skip what is already a target.
_HOLDERS_SQL = {
    "license": f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("license", license_="h.license_id")}
      FROM (SELECT DISTINCT lr.license_id FROM {_LICENSE_RELEASES} lr
             JOIN {_TARGET} rt ON rt.release_id = lr.release_id
            WHERE rt.propagation_id = %(propagation)s AND rt.kind = 'release'
              AND (%(release)s::bigint IS NULL OR rt.release_id = %(release)s)) h
    ON CONFLICT DO NOTHING RETURNING id""",  # noqa: S608
    "model": f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("derived_model", model="h.derivedmodel_id")}
      FROM (SELECT DISTINCT mr.derivedmodel_id FROM {_MODEL_RELEASES} mr
             JOIN {_TARGET} rt ON rt.release_id = mr.release_id
            WHERE rt.propagation_id = %(propagation)s AND rt.kind = 'release'
              AND (%(release)s::bigint IS NULL OR rt.release_id = %(release)s)) h
    ON CONFLICT DO NOTHING RETURNING id""",  # noqa: S608
}

# The speaker's own channel of each call, and the call's mixed file when we store it
# (it holds this voice too). The partners' channels stay when the call was isolated at
# source; on a call that was not (one room, separated afterwards), every other channel
# carries this voice too and is destroyed with it: a "partner channel" target, whose
# track belongs to someone else (``services.is_partner_channel``).
_AUDIO_SQL = f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("audio", track="t.id")}
      FROM {_TRACK} t JOIN {_RECORDING} r ON r.id = t.recording_id
     WHERE t.recording_id = ANY(%(recordings)s)
       AND ((t.speaker_id = %(speaker)s
             AND (t.audio_name <> '' OR r.audio_uri LIKE %(in_storage)s))
            OR (t.speaker_id <> %(speaker)s AND NOT r.isolated_at_source
                AND t.audio_name <> ''))"""  # noqa: S608

_VOICEPRINTS_SQL = f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("voiceprint", voiceprint="v.id")}
      FROM {VoiceprintTemplate._meta.db_table} v
     WHERE v.speaker_id = %(speaker)s AND v.destroyed_at IS NULL"""  # noqa: S608

_VOICEPRINTS_DUE_SQL = f"""
    UPDATE {VoiceprintTemplate._meta.db_table}
       SET purpose_met_at = LEAST(coalesce(purpose_met_at, %(effective_at)s), %(effective_at)s),
           retention_until = LEAST(retention_until, %(effective_at)s)
     WHERE speaker_id = %(speaker)s AND destroyed_at IS NULL"""  # noqa: S608

_LATE_RELEASE_SQL = f"""
    INSERT INTO {_TARGET} ({_COLUMNS})
    SELECT {_values("release", propagation="p.id", release="%(release)s")}
      FROM {Propagation._meta.db_table} p
     WHERE p.effective_at > %(as_of)s
       AND NOT p.within_erasure
       AND (p.kind = 'erasure' OR p.purpose = 'recording' OR p.purpose = ANY(%(purposes)s))
       AND EXISTS (SELECT 1 FROM {_ITEM} i
                    WHERE i.release_id = %(release)s AND i.recording_id = ANY(p.recording_ids))
    ON CONFLICT DO NOTHING RETURNING id"""  # noqa: S608
