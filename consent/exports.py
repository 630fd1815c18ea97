"""Streaming exports of eligibility: every eligible track as one JSON line, written by
PostgreSQL itself (COPY … TO STDOUT) and passed through in chunks, so memory stays flat
whether the answer is ten rows or ten million. Manifests and the API stream from here."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import IO

from django.db import connections
from django.db.models import F

from consent.eligibility import RecordingFilters, eligible_tracks
from registry.routers import read_alias

# What a dataset builder gets per track: ids and audio facts, never personal data.
EXPORT_FIELDS = {
    "track": "public_id",
    "channel": "channel",
    "recording": "recording__public_id",
    "speaker": "speaker__public_id",
    "recorded_at": "recording__recorded_at",
    "duration_ms": "recording__duration_ms",
    "sample_rate_hz": "recording__sample_rate_hz",
    "language": "recording__language",
    "jurisdiction": "recording__jurisdiction",
    "isolated_at_source": "recording__isolated_at_source",
    "audio_uri": "recording__audio_uri",
    "audio_sha256": "recording__audio_sha256",
}


def eligible_tracks_select(
    *, purpose: str, at: datetime.datetime | None = None, filters: RecordingFilters | None = None
) -> tuple[str, tuple[object, ...]]:
    """The SQL (and parameters) of the eligible tracks with the exported columns."""
    queryset = (
        eligible_tracks(purpose=purpose, at=at, filters=filters)
        .annotate(**{f"x_{name}": F(path) for name, path in EXPORT_FIELDS.items()})
        .values(*(f"x_{name}" for name in EXPORT_FIELDS))
        .order_by("recording_id", "channel")
    )
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def export_eligible_tracks_jsonl(
    *,
    out: IO[bytes],
    purpose: str,
    at: datetime.datetime | None = None,
    filters: RecordingFilters | None = None,
) -> int:
    """Write one JSON object per eligible track to ``out``; returns the bytes written."""
    sql, params = eligible_tracks_select(purpose=purpose, at=at, filters=filters)
    pairs = ", ".join(f"'{name}', t.x_{name}" for name in EXPORT_FIELDS)
    # The inner SQL is the ORM's (parameters travel separately); the names are constants.
    statement = f"COPY (SELECT json_build_object({pairs}) FROM ({sql}) AS t) TO STDOUT"  # noqa: S608
    return copy_to(out, statement, params)


def copy_chunks(
    statement: str, params: tuple[object, ...], *, alias: str | None = None
) -> Iterator[bytes]:
    """The output of a ``COPY … TO STDOUT`` as it streams out of PostgreSQL (constant
    memory, whatever the number of rows), from ``alias`` (default: the read database).
    Chunks are PostgreSQL's buffers as psycopg hands them over (bytes-like)."""
    with (
        connections[alias or read_alias()].cursor() as cursor,
        cursor.cursor.copy(statement, params) as copy,
    ):
        yield from copy


def copy_to(out: IO[bytes], statement: str, params: tuple[object, ...]) -> int:
    """Run a ``COPY … TO STDOUT`` and stream its output to ``out`` chunk by chunk."""
    written = 0
    for chunk in copy_chunks(statement, params):
        out.write(chunk)
        written += len(chunk)
    return written
