"""A release's manifest: one JSON line per track, written by PostgreSQL (COPY … TO
STDOUT) and streamed in chunks, so memory stays flat at millions of rows.

Only columns that never change after ingestion are in it (no audio URI: audio may be
deleted later), so the manifest of a release is the same bytes, with the same sha256,
however often and whenever it is generated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO

from django.db import connections
from django.db.models import F

from registry.models import Track
from registry.routers import read_alias

MANIFEST_FIELDS = {
    "track": "public_id",
    "recording": "recording__public_id",
    "channel": "channel",
    "speaker": "speaker__public_id",
    "recorded_at": "recording__recorded_at",
    "duration_ms": "recording__duration_ms",
    "sample_rate_hz": "recording__sample_rate_hz",
    "channels": "recording__channel_count",
    "language": "recording__language",
    "jurisdiction": "recording__jurisdiction",
    "isolated_at_source": "recording__isolated_at_source",
    "audio_sha256": "recording__audio_sha256",
}


def manifest_statement(release_id: int) -> tuple[str, tuple[object, ...]]:
    """``COPY (…) TO STDOUT`` of the release's JSON lines, in recording then channel order."""
    queryset = (
        Track.objects.filter(release_items__release_id=release_id)
        .annotate(**{f"x_{name}": F(path) for name, path in MANIFEST_FIELDS.items()})
        .values(*(f"x_{name}" for name in MANIFEST_FIELDS))
        .order_by("recording_id", "channel")
    )
    sql, params = queryset.query.sql_with_params()
    pairs = ", ".join(f"'{name}', t.x_{name}" for name in MANIFEST_FIELDS)
    # The inner SQL is the ORM's (parameters travel separately); the names are constants.
    statement = f"COPY (SELECT json_build_object({pairs}) FROM ({sql}) AS t) TO STDOUT"  # noqa: S608
    return statement, tuple(params)


def manifest_chunks(release_id: int) -> Iterator[bytes]:
    """The manifest as it streams out of PostgreSQL."""
    statement, params = manifest_statement(release_id)
    with (
        connections[read_alias()].cursor() as cursor,
        cursor.cursor.copy(statement, params) as copy,
    ):
        for chunk in copy:
            yield bytes(chunk)


def write_manifest(release_id: int, out: IO[bytes]) -> tuple[str, int]:
    """Stream the manifest to ``out``; returns its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    for chunk in manifest_chunks(release_id):
        digest.update(chunk)
        size += len(chunk)
        out.write(chunk)
    return digest.hexdigest(), size


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def manifest_digest(release_id: int) -> tuple[str, int]:
    """sha256 and size of the manifest, without keeping it."""
    return write_manifest(release_id, _Discard())  # type: ignore[arg-type]
