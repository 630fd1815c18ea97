"""With a replica configured (here: an alias mirroring the test database), bulk reads
inside `replica_reads()` go to it; everything else, and every write, stays on default."""

from __future__ import annotations

import io

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent.eligibility import eligible_recordings
from consent.exports import export_eligible_tracks_jsonl
from consent.models import Purpose
from registry.models import Recording
from registry.routers import ReadReplicaRouter, read_alias, replica_reads
from tests.consent.conftest import give_all, publish
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db(
    transaction=True, serialized_rollback=True, databases=["default", "replica"]
)


def _consented_recording() -> Recording:
    for purpose in (Purpose.RECORDING, Purpose.TRAINING):
        publish(purpose)
    a, b = SpeakerFactory(), SpeakerFactory()
    for speaker in (a, b):
        give_all(speaker, Purpose.RECORDING, Purpose.TRAINING)
    return RecordingFactory(speakers=[a, b], recorded_at=timezone.now())


def test_reads_inside_replica_reads_use_the_replica_and_others_do_not() -> None:
    recording = _consented_recording()
    assert read_alias() == "default"
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        with replica_reads() as alias:
            assert alias == "replica"
            assert list(eligible_recordings(purpose=Purpose.TRAINING)) == [recording]
            out = io.BytesIO()
            export_eligible_tracks_jsonl(out=out, purpose=Purpose.TRAINING)
        list(Recording.objects.all())  # outside the block: default
    assert len(on_replica) >= 1
    assert out.getvalue().count(b"\n") == 2


def test_writes_and_migrations_never_go_to_the_replica() -> None:
    router = ReadReplicaRouter()
    with replica_reads():
        assert router.db_for_write(Recording) == "default"
        assert router.db_for_read(Recording) == "replica"
    assert router.db_for_read(Recording) is None
    assert router.allow_migrate("replica", "registry") is False
    assert router.allow_migrate("default", "registry") is True
