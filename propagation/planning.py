"""The plan: every place one withdrawal, expiry or erasure must reach, written
set-based (a handful of INSERT … SELECT statements, whatever the number of recordings)
inside the transaction that wrote the consent event and its outbox row.

What a purpose's withdrawal touches:
  - recording, or an erasure: every release holding the speaker's tracks, the stored
    audio of those tracks, and (erasure) the voiceprints and the personal data;
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

from consent.models import ConsentOutbox, OutboxKind, Purpose
from datasetcards.models import License, Release, ReleaseItem, ReleaseStatus
from propagation.models import Propagation, PropagationStatus, PropagationTarget
from registry.models import Recording, Track, VoiceprintTemplate
from registry.services import STORAGE_URI_PREFIX

# Releases a licensee may still hold copies of. A withdrawn release was already
# recalled as a whole; a failed or building one never left the registry.
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
    release: str = "NULL",
    license_: str = "NULL",
    model: str = "NULL",
    track: str = "NULL",
    voiceprint: str = "NULL",
) -> str:
    return (
        f"gen_random_uuid(), %(propagation)s, '{kind}', {release}, {license_}, {model}, "
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
    propagation = Propagation.objects.create(
        outbox=row,
        kind=row.kind,
        speaker_id=speaker_id,
        purpose=purpose,
        session=session,
        erasure_request=row.erasure_request,
        effective_at=effective_at,
    )
    everything = row.kind == OutboxKind.ERASURE or purpose == Purpose.RECORDING
    params: dict[str, Any] = {
        "propagation": propagation.pk,
        "now": now,
        "speaker": speaker_id,
        "purpose": purpose,
        "everything": everything,
        "held": [str(s) for s in HELD_STATUSES],
        # A session-scoped consent reaches only that session's recording (none yet:
        # nothing recorded, nothing to reach).
        "scoped": session is not None,
        "recording": session.recording_id if session is not None else None,
        "in_storage": STORAGE_URI_PREFIX + "%",
    }
    # Interpolated below: table names from the models and generated placeholders only.
    tracks = f"""
        SELECT t.id FROM {Track._meta.db_table} t
         WHERE t.speaker_id = %(speaker)s
           AND (NOT %(scoped)s OR t.recording_id = %(recording)s)"""  # noqa: S608
    release_table = Release._meta.db_table
    dataset_table = Release.dataset.field.related_model._meta.db_table
    license_releases = License.releases.through._meta.db_table
    model_releases = Release.derived_models.through._meta.db_table
    statements = [
        # Releases holding the speaker's tracks whose dataset needs what was withdrawn.
        f"""INSERT INTO {_TARGET} ({_COLUMNS})
            SELECT {_values("release", release="r.id")}
              FROM {release_table} r JOIN {dataset_table} d ON d.id = r.dataset_id
             WHERE r.status = ANY(%(held)s)
               AND (%(everything)s OR %(purpose)s = ANY(d.intended_purposes))
               AND r.id IN (SELECT i.release_id FROM {ReleaseItem._meta.db_table} i
                             WHERE i.track_id IN ({tracks}))""",  # noqa: S608
        # Every license granting one of them: its licensee gets one notice.
        f"""INSERT INTO {_TARGET} ({_COLUMNS})
            SELECT {_values("license", license_="lr.license_id")}
              FROM (SELECT DISTINCT lr.license_id FROM {license_releases} lr
                     JOIN {_TARGET} rt ON rt.release_id = lr.release_id
                    WHERE rt.propagation_id = %(propagation)s AND rt.kind = 'release') lr""",  # noqa: S608
        # Every model declared as trained on one of them: its owner is notified.
        f"""INSERT INTO {_TARGET} ({_COLUMNS})
            SELECT {_values("derived_model", model="m.derivedmodel_id")}
              FROM (SELECT DISTINCT mr.derivedmodel_id FROM {model_releases} mr
                     JOIN {_TARGET} rt ON rt.release_id = mr.release_id
                    WHERE rt.propagation_id = %(propagation)s AND rt.kind = 'release') m""",  # noqa: S608
    ]
    if everything:
        statements.append(
            # The speaker's own channel of each recording (the partner's stays), and
            # the call's mixed file when we store it (it holds this voice too).
            f"""INSERT INTO {_TARGET} ({_COLUMNS})
                SELECT {_values("audio", track="t.id")}
                  FROM {Track._meta.db_table} t
                  JOIN {Recording._meta.db_table} r ON r.id = t.recording_id
                 WHERE t.id IN ({tracks})
                   AND (t.audio_name <> '' OR r.audio_uri LIKE %(in_storage)s)"""  # noqa: S608
        )
    if row.kind == OutboxKind.ERASURE or purpose == Purpose.BIOMETRIC:
        statements.append(
            f"""INSERT INTO {_TARGET} ({_COLUMNS})
                SELECT {_values("voiceprint", voiceprint="v.id")}
                  FROM {VoiceprintTemplate._meta.db_table} v
                 WHERE v.speaker_id = %(speaker)s AND v.destroyed_at IS NULL"""  # noqa: S608
        )
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
