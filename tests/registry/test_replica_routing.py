"""With a replica configured (here: an alias mirroring the test database), bulk reads
inside `replica_reads()` go to it; everything else, and every write, stays on default."""

from __future__ import annotations

import io

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from consent import exports
from consent.eligibility import eligible_recordings
from consent.models import Purpose
from registry.models import Recording
from registry.routers import ReadReplicaRouter, read_alias, replica_reads

pytestmark = pytest.mark.django_db(databases=["default", "replica"])


@pytest.fixture(autouse=True)
def _close_replica_connection():
    yield
    # The mirror's own connection would otherwise keep the test database open.
    connections["replica"].close()


def test_reads_inside_replica_reads_run_on_the_replica_connection(monkeypatch) -> None:
    used: list[str] = []

    class SpyConnections:
        def __getitem__(self, alias: str):
            used.append(alias)
            return connections[alias]

    monkeypatch.setattr(exports, "connections", SpyConnections())
    assert read_alias() == "default"
    assert eligible_recordings(purpose=Purpose.TRAINING).db == "default"
    with replica_reads() as alias, CaptureQueriesContext(connections["replica"]) as queries:
        assert alias == "replica"
        selection = eligible_recordings(purpose=Purpose.TRAINING)
        assert selection.db == "replica"
        list(selection)
        exports.export_eligible_tracks_jsonl(out=io.BytesIO(), purpose=Purpose.TRAINING)
    # The eligibility SELECT ran on the replica connection, and so did the export's COPY
    # (which psycopg runs below Django's query log).
    assert len(queries) == 1
    assert used == ["replica"]
    assert Recording.objects.all().db == "default"


def test_writes_and_migrations_never_go_to_the_replica() -> None:
    router = ReadReplicaRouter()
    with replica_reads():
        assert router.db_for_write(Recording) == "default"
        assert router.db_for_read(Recording) == "replica"
    assert router.db_for_read(Recording) is None
    assert router.allow_migrate("replica", "registry") is False
    assert router.allow_migrate("default", "registry") is True
