"""A release's manifest over HTTP: streamed from PostgreSQL's COPY as JSON lines or CSV,
gzip-compressed on the fly when asked, conditional (ETag) and resumable (``after``).

Nothing is ever held whole in memory: COPY rows are regrouped into ~64 KiB chunks
(``datasetcards.manifest``) and each chunk goes through one zlib stream on its way out.

Representations and their ETags (the manifest is immutable, so they never change):
``"<sha256>"`` the JSON lines (exactly the bytes of ``Release.manifest_sha256``),
``"<sha256>.csv"`` the CSV, ``W/"<sha256>.jsonl.gz"`` and ``W/"<sha256>.csv.gz"`` their
gzip encodings (weak: the compressed bytes depend on the zlib build, the content does
not). A resumed download (``after``) is part of a representation and has no ETag."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.http import (
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from datasetcards import manifest, selectors
from datasetcards.api.serializers import ManifestQuery
from datasetcards.cards import preferences
from datasetcards.cards.native import release_urls
from datasetcards.models import Release
from registry.api.base import LicenseeView, problems

JSONL = "application/jsonl"
CSV = "text/csv; charset=utf-8"
GZIP_LEVEL = 6


class FixedRepresentation(BaseContentNegotiation):
    """The URL (and ``?format=``) decide what a file endpoint serves, never ``Accept``:
    there is nothing to negotiate, so no 406 and no 404 for ``?format=csv``. Errors
    are rendered by the JSON renderer as problem+json."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


def if_none_match(request: Request, etag: str) -> bool:
    """``If-None-Match`` names this ETag (weak comparison, RFC 9110 13.1.2) or is ``*``."""
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    tags = parse_etags(header)
    if tags == ["*"]:
        return True
    bare = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == bare for tag in tags)


# A 304 has no body: nothing describes one.
BODY_HEADERS = ("Content-Type", "Content-Encoding", "Content-Disposition")


def not_modified(headers: dict[str, str]) -> HttpResponseNotModified:
    """304, with the headers a cache needs to keep using its copy (ETag, Vary, …)."""
    response = HttpResponseNotModified()
    for name, value in headers.items():
        if name not in BODY_HEADERS:
            response[name] = value
    return response


def accepts_gzip(header: str) -> bool:
    """``Accept-Encoding`` allows gzip (``gzip``/``x-gzip``, or ``*``), with q > 0."""
    qualities: dict[str, float] = {}
    for part in header.split(","):
        coding, *parameters = (piece.strip() for piece in part.split(";"))
        if not coding:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        qualities[coding.lower()] = quality
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding] > 0
    return False


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """One gzip member, compressed incrementally: memory stays that of zlib's window."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        if compressed := compressor.compress(chunk):
            yield compressed
    yield compressor.flush()


@dataclass(frozen=True)
class Representation:
    """Which bytes a manifest request asks for."""

    format: manifest.ManifestFormat
    gzip: bool
    after: UUID | None

    @property
    def content_type(self) -> str:
        return JSONL if self.format == "jsonl" else CSV

    def etag(self, release: Release) -> str | None:
        if self.after is not None:
            return None  # a part: no ETag of a whole
        if self.format == "jsonl" and not self.gzip:
            return f'"{release.manifest_sha256}"'
        suffix = f".{self.format}.gz" if self.gzip else f".{self.format}"
        return f'{"W/" if self.gzip else ""}"{release.manifest_sha256}{suffix}"'

    def filename(self, release: Release) -> str:
        extension = f".{self.format}.gz" if self.gzip else f".{self.format}"
        return f"{release.dataset.slug}-{release.version}{extension}"

    def headers(self, release: Release) -> dict[str, str]:
        errata = release_urls(release)["errata"]
        headers = {
            "Content-Type": self.content_type,
            "Content-Disposition": f'attachment; filename="{self.filename(release)}"',
            "Vary": "Accept-Encoding",
            # Revalidated on every use: a token revoked or a license ended is honoured
            # at once, and the ETag makes the revalidation a 304.
            "Cache-Control": "private, no-cache",
            "X-Manifest-SHA256": release.manifest_sha256,
            "X-Manifest-Tracks": str(release.track_count),
            "X-Manifest-Bytes": str(release.manifest_bytes),
            "X-Release-Status": release.status,
            # Withdrawals after the release are errata, never edits of the manifest.
            "Link": f'<{errata}>; rel="describedby"; type="application/json"; title="errata"',
            "Content-Usage": preferences.content_usage_header(release),
        }
        if etag := self.etag(release):
            headers["ETag"] = etag
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        if self.after is not None:
            headers["X-Manifest-Resumed-After"] = str(self.after)
        return headers


def _header(name: str, description: str, kind: Any = OpenApiTypes.STR) -> OpenApiParameter:
    return OpenApiParameter(
        name, kind, OpenApiParameter.HEADER, description=description, response=[200, 304]
    )


MANIFEST_LINE = (
    '{"track" : "0b6f3c1e-6d0e-4a43-9d43-4f3b8f5b9a10", "recording" : '
    '"5d2b7c77-2a55-4d7e-b0b4-0cc1d0e6a0f1", "channel" : 0, "speaker" : '
    '"a4a3f0f2-3e7e-4f6b-8a55-7b1f8d7f2c3d", "recorded_at" : "2025-03-01T10:00:00+00:00", '
    '"duration_ms" : 600000, "sample_rate_hz" : 16000, "channels" : 2, "language" : "en", '
    '"jurisdiction" : "US-IL", "isolated_at_source" : true, "audio_sha256" : '
    '"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}\n'
)
MANIFEST_CSV = (
    ",".join(manifest.MANIFEST_FIELDS)
    + "\r\n0b6f3c1e-6d0e-4a43-9d43-4f3b8f5b9a10,5d2b7c77-2a55-4d7e-b0b4-0cc1d0e6a0f1,0,"
    "a4a3f0f2-3e7e-4f6b-8a55-7b1f8d7f2c3d,2025-03-01T10:00:00+00:00,600000,16000,2,en,US-IL,"
    "true,9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\r\n"
)


@extend_schema(
    summary="A release's manifest (JSON lines or CSV), streamed",
    description=(
        "One line per track of the release, in recording then channel order: exactly the "
        "bytes whose sha256 is the release's `manifest_sha256` (`format=jsonl`, the "
        "default), or the same rows as CSV with a header row (`format=csv`; every value "
        "is the text of the JSON value). Streamed from the database, any size.\n\n"
        "**Compression**: send `Accept-Encoding: gzip` to get the same bytes gzip-"
        "compressed (`Content-Encoding: gzip`).\n\n"
        '**ETag**: `"<sha256>"` for the JSON lines, `"<sha256>.csv"` for the CSV, '
        '`W/"<sha256>.jsonl.gz"` / `W/"<sha256>.csv.gz"` gzip-encoded; `If-None-Match` '
        "with it answers 304 with no body.\n\n"
        "**Resume**: `after=<track id>` streams only the lines after that track's line, so "
        "a download that broke after line N resumes with the `track` of line N and the two "
        "parts concatenate to the whole (a resumed CSV has no header row). A part has no "
        "`ETag` and ignores `If-None-Match`; `X-Manifest-SHA256` still names the whole JSON "
        "lines, to check the joined file, and `X-Manifest-Resumed-After` echoes `after`.\n\n"
        "A tainted release's manifest is still served as built: what to drop is in its "
        "errata (the `Link` header) and the withdrawal feed."
    ),
    tags=["licensee"],
    parameters=[
        OpenApiParameter(
            "format",
            str,
            OpenApiParameter.QUERY,
            enum=["jsonl", "csv"],
            default="jsonl",
            description="`jsonl` (default) or `csv`.",
        ),
        OpenApiParameter(
            "after",
            OpenApiTypes.UUID,
            OpenApiParameter.QUERY,
            description="Resume after this track (the `track` of the last line received); "
            "it must be a track of this release (else 400 `after_not_in_manifest`).",
        ),
        OpenApiParameter(
            "If-None-Match",
            str,
            OpenApiParameter.HEADER,
            description="An ETag from an earlier download: 304 when it is this one.",
        ),
        OpenApiParameter(
            "Accept-Encoding",
            str,
            OpenApiParameter.HEADER,
            description="`gzip` for a gzip-compressed body.",
        ),
        _header("ETag", "The representation's entity tag (absent on a resumed part)."),
        _header("X-Manifest-SHA256", "sha256 of the whole manifest as JSON lines."),
        _header("X-Manifest-Tracks", "Lines (tracks) in the whole manifest.", OpenApiTypes.INT),
        _header("X-Manifest-Bytes", "Size of the whole JSON lines manifest.", OpenApiTypes.INT),
        _header("X-Manifest-Resumed-After", "The `after` track of a resumed part."),
        _header("X-Release-Status", "current, tainted, superseded or withdrawn."),
        _header("Content-Disposition", "`attachment; filename=<dataset>-<version>.jsonl[.gz]`."),
        _header("Content-Encoding", "`gzip` when the body is compressed."),
        _header("Link", "The release's errata (`title=errata`)."),
        _header("Content-Usage", "IETF AI Preferences of the release, e.g. `train-ai=y`."),
    ],
    responses={
        (200, JSONL): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The manifest as JSON lines (or a resumed part of it).",
            examples=[OpenApiExample("one line", value=MANIFEST_LINE, media_type=JSONL)],
        ),
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The manifest as CSV (`format=csv`).",
            examples=[OpenApiExample("header and one row", value=MANIFEST_CSV)],
        ),
        304: OpenApiResponse(description="Not modified: the ETag in If-None-Match is current."),
        **problems(400, 404),
    },
)
class ReleaseManifest(LicenseeView, APIView):
    content_negotiation_class = FixedRepresentation

    def get(self, request: Request, release_id: UUID) -> HttpResponseBase:
        query = ManifestQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        release = selectors.get_built_release_for_licensee(
            licensee_id=self.licensee_id(request), public_id=release_id
        )
        wanted = Representation(
            format=query.validated_data["format"],
            gzip=accepts_gzip(request.META.get("HTTP_ACCEPT_ENCODING", "")),
            after=query.validated_data.get("after"),
        )
        after = None
        if wanted.after is not None:
            after = manifest.resume_position(release_id=release.pk, track_public_id=wanted.after)
        headers = wanted.headers(release)
        etag = wanted.etag(release)
        if etag is not None and if_none_match(request, etag):
            return not_modified(headers)
        if request.method == "HEAD":
            return HttpResponse(headers=headers)
        chunks = manifest.manifest_chunks(
            release.pk,
            after=after,
            format=wanted.format,
            alias=manifest.manifest_alias(release.pk),
        )
        return StreamingHttpResponse(
            gzip_chunks(chunks) if wanted.gzip else chunks, headers=headers
        )
