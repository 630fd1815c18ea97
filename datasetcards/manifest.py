"""A release's manifest: one JSON line per track, written by PostgreSQL (COPY … TO
STDOUT) and streamed in chunks, so memory stays flat at millions of rows.

Only columns that never change after ingestion are in it (no audio URI: audio may be
deleted later), so the manifest of a release is the same bytes, with the same sha256,
however often and whenever it is generated.

The same rows can also be read as CSV (one column per manifest field, each value the
text of the JSON value, so both formats agree field for field), and from any track on
("resume after this track", by the manifest's own order: recording, then channel)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO, Literal
from uuid import UUID

from django.db.models import F, Q

from consent.exports import copy_chunks
from datasetcards.models import Release, ReleaseItem
from registry.errors import InvalidInput
from registry.models import Track
from registry.routers import replica_reads

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

ManifestFormat = Literal["jsonl", "csv"]
# A position in the manifest's order: (recording pk, channel) of a track.
Position = tuple[int, int]
# PostgreSQL hands COPY output over one row at a time; a web server writing each row
# on its own would make a syscall per line.
CHUNK_BYTES = 64 * 1024


class ResumeTrackNotInManifest(InvalidInput):
    code = "after_not_in_manifest"


def manifest_statement(
    release_id: int, *, after: Position | None = None, format: ManifestFormat = "jsonl"
) -> tuple[str, tuple[object, ...]]:
    """``COPY (…) TO STDOUT`` of the release's JSON lines (or CSV rows), in recording then
    channel order; ``after``: only the tracks that follow that position (keyset, not
    OFFSET). A CSV has a header row unless it resumes (appended, it completes a file)."""
    tracks = Track.objects.filter(release_items__release_id=release_id)
    if after is not None:
        recording_id, channel = after
        tracks = tracks.filter(
            Q(recording_id__gt=recording_id) | Q(recording_id=recording_id, channel__gt=channel)
        )
    queryset = (
        tracks.annotate(**{f"x_{name}": F(path) for name, path in MANIFEST_FIELDS.items()})
        .values(*(f"x_{name}" for name in MANIFEST_FIELDS))
        .order_by("recording_id", "channel")
    )
    sql, params = queryset.query.sql_with_params()
    pairs = ", ".join(f"'{name}', t.x_{name}" for name in MANIFEST_FIELDS)
    # The inner SQL is the ORM's (parameters travel separately); the names are constants.
    lines = f"SELECT json_build_object({pairs}) AS line FROM ({sql}) AS t"  # noqa: S608
    if format == "jsonl":
        return f"COPY ({lines}) TO STDOUT", tuple(params)
    # Each CSV value is the JSON value's text (->>), so timestamps and booleans are
    # written exactly as in the JSON lines.
    columns = ", ".join(f"m.line->>'{name}' AS \"{name}\"" for name in MANIFEST_FIELDS)
    options = "FORMAT csv" if after is not None else "FORMAT csv, HEADER"
    statement = f"COPY (SELECT {columns} FROM ({lines}) AS m) TO STDOUT ({options})"  # noqa: S608
    return statement, tuple(params)


def manifest_chunks(
    release_id: int,
    *,
    after: Position | None = None,
    format: ManifestFormat = "jsonl",
    alias: str | None = None,
) -> Iterator[bytes]:
    """The manifest as it streams out of PostgreSQL, in chunks of about CHUNK_BYTES
    (``alias``: the database to read; by default the one reads use right now)."""
    statement, params = manifest_statement(release_id, after=after, format=format)
    buffer = bytearray()
    for row in copy_chunks(statement, params, alias=alias):
        buffer += row
        if len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


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


def resume_position(*, release_id: int, track_public_id: UUID | str) -> Position:
    """Where the manifest resumes after a track; refused unless the track is in it."""
    position = (
        ReleaseItem.objects.filter(release_id=release_id, track__public_id=track_public_id)
        .values_list("recording_id", "track__channel")
        .first()
    )
    if position is None:
        raise ResumeTrackNotInManifest(
            f"track {track_public_id} is not in this release's manifest: resume with the "
            "`track` of the last line you received",
            field="after",
        )
    return position


def manifest_alias(release_id: int) -> str:
    """The database to stream a built release's manifest from: the read replica once it
    holds the build, else the primary. A replica that lags behind the build would
    stream an empty or partial manifest under the release's sha256; items are written
    before ``built_at``, so a replica that sees ``built_at`` holds every item."""
    with replica_reads() as alias:
        if alias == "default":
            return alias
        if Release.objects.using(alias).filter(pk=release_id, built_at__isnull=False).exists():
            return alias
    return "default"
