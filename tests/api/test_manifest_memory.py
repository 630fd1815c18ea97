"""A manifest of 200,000 tracks streams through the endpoint in flat memory: the peak
of Python allocations while the response is consumed chunk by chunk stays a small
fraction of the manifest's size (a view that built the body would hold all of it)."""

from __future__ import annotations

import hashlib
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.utils import timezone

from datasetcards import services as datasets
from datasetcards.figures import dataset_snapshot
from datasetcards.manifest import manifest_chunks, manifest_digest
from datasetcards.models import Release, ReleaseStatus
from tests.api.helpers import licensee_client
from tests.factories import LicenseeFactory, SpeakerFactory
from tests.propagation.conftest import make_dataset

pytestmark = pytest.mark.django_db(databases=["default", "replica"])

RECORDINGS = 100_000  # two tracks each
PEAK_LIMIT = 5 * 1024 * 1024
MIN_MANIFEST = 40 * 1024 * 1024


@pytest.fixture(autouse=True)
def _close_replica_connection() -> Iterator[None]:
    yield
    connections["replica"].close()


def _bulk_release() -> Release:
    """A built release of 2 × RECORDINGS tracks, loaded set-based in SQL (as the bench
    corpus is: row triggers off for the load, their invariants hold by construction)."""
    a, b = SpeakerFactory(), SpeakerFactory()
    dataset = make_dataset("memory", ["training"], isolated_at_source_only=True)
    release = Release.objects.create(dataset=dataset, version="1.0.0", as_of=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """
            INSERT INTO registry_recording (public_id, external_ref, recorded_at, duration_ms,
                sample_rate_hz, channel_count, isolated_at_source, language, jurisdiction,
                audio_uri, audio_sha256, status, created_at, updated_at)
            SELECT gen_random_uuid(), 'memory-' || g, now() - interval '1 day', 600000,
                16000, 2, true, 'en', 'US-IL', 's3://memory/' || g || '.flac',
                md5(g::text) || md5((-g)::text), 'available', now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [RECORDINGS],
        )
        cursor.execute(
            """
            INSERT INTO registry_track (public_id, recording_id, channel, speaker_id,
                audio_name, audio_sha256, created_at)
            SELECT gen_random_uuid(), r.id, c.channel,
                CASE c.channel WHEN 0 THEN %s ELSE %s END, '', '', now()
            FROM registry_recording r CROSS JOIN (VALUES (0), (1)) AS c(channel)
            WHERE r.external_ref LIKE 'memory-%%'
            """,
            [a.pk, b.pk],
        )
        cursor.execute(
            """
            INSERT INTO datasetcards_releaseitem (release_id, recording_id, track_id)
            SELECT %s, t.recording_id, t.id FROM registry_track t
            JOIN registry_recording r ON r.id = t.recording_id
            WHERE r.external_ref LIKE 'memory-%%'
            """,
            [release.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute("ANALYZE registry_recording, registry_track, datasetcards_releaseitem")
    sha256, size = manifest_digest(release.pk)
    release.manifest_sha256, release.manifest_bytes = sha256, size
    release.recording_count, release.track_count = RECORDINGS, 2 * RECORDINGS
    release.card_figures = {"dataset": dataset_snapshot(release)}
    release.status = ReleaseStatus.CURRENT
    release.built_at = release.status_changed_at = timezone.now()
    release.save()
    return release


def test_a_200k_track_manifest_streams_in_flat_memory() -> None:
    release = _bulk_release()
    assert release.manifest_bytes > MIN_MANIFEST
    licensee = LicenseeFactory()
    datasets.grant_license(
        licensee=licensee,
        dataset=release.dataset,
        purposes_allowed=["training"],
        derived_model_action="none",
        starts_on=timezone.now().date(),
        releases=[release],
    )
    client = licensee_client(licensee)
    url = f"/api/v1/releases/{release.public_id}/manifest"
    # Warm up: the first request imports and compiles what any request needs once.
    assert client.head(url).status_code == 200
    for encoding in ("identity", "gzip"):
        digest, size, chunks = hashlib.sha256(), 0, 0
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        tracemalloc.start()
        try:
            response = client.get(url, HTTP_ACCEPT_ENCODING=encoding)
            assert response.status_code == 200
            assert response.streaming
            for chunk in response.streaming_content:
                chunks += 1
                data = decompressor.decompress(chunk) if encoding == "gzip" else chunk
                digest.update(data)
                size += len(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert digest.hexdigest() == release.manifest_sha256, encoding
        assert size == release.manifest_bytes
        assert chunks > 100  # streamed in pieces, not one body
        assert peak < PEAK_LIMIT, f"{encoding}: peak {peak / 1e6:.1f} MB"
    # The instrument itself: the same measurement of a body built whole sees all of it.
    tracemalloc.start()
    try:
        whole = b"".join(manifest_chunks(release.pk))
        built_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(whole) == release.manifest_bytes
    assert built_peak > MIN_MANIFEST
