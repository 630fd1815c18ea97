"""Releases freeze what was eligible for all the dataset's purposes; the figures equal
independent SQL; nothing about a built release changes except its status."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from consent.eligibility import eligible_recordings
from datasetcards import services
from datasetcards.manifest import manifest_digest
from datasetcards.models import ReleaseItem, ReleaseStatus
from registry.errors import InvalidInput, RegistryError
from tests.consent.conftest import withdraw

pytestmark = pytest.mark.django_db


def sql(query: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def test_a_release_holds_exactly_the_recordings_eligible_for_every_purpose(corpus, release):
    _speakers, recordings = corpus
    assert release.status == ReleaseStatus.CURRENT
    assert release.build_progress == 100
    frozen = set(ReleaseItem.objects.filter(release=release).values_list("recording_id", flat=True))
    training = set(eligible_recordings(purpose="training").values_list("pk", flat=True))
    redistribution = set(eligible_recordings(purpose="redistribution").values_list("pk", flat=True))
    assert frozen == training & redistribution
    assert frozen == {r.pk for r in recordings[:4]}
    assert ReleaseItem.objects.filter(release=release).count() == 8  # two tracks each


def test_every_figure_equals_an_independent_sql_aggregate(release):
    figures = release.card_figures
    recordings, hours, isolated = sql(
        """SELECT count(*), round(sum(r.duration_ms)::numeric / 3600000, 3),
                  count(*) FILTER (WHERE r.isolated_at_source)
           FROM registry_recording r WHERE r.id IN
           (SELECT recording_id FROM datasetcards_releaseitem WHERE release_id = %s)""",
        release.pk,
    )
    speakers, tracks = sql(
        """SELECT count(DISTINCT t.speaker_id), count(*) FROM datasetcards_releaseitem i
           JOIN registry_track t ON t.id = i.track_id WHERE i.release_id = %s""",
        release.pk,
    )
    assert figures["recordings"] == recordings == 4
    assert figures["hours"] == float(hours) == 2.583
    assert figures["distinct_speakers"] == speakers == 6
    assert figures["tracks"] == tracks == 8
    assert figures["isolated_at_source_share"] == round(isolated / recordings, 4)
    assert figures["consent_coverage"]["training"] == 1.0
    assert figures["consent_coverage"]["redistribution"] == 1.0
    # biometric: only the call between speakers 0 and 1 has it from both sides.
    assert figures["consent_coverage"]["biometric"] == 0.25
    assert {row["language"]: row["hours"] for row in figures["languages"]} == {
        "en": 2.25,
        "ja": 0.333,
    }
    assert figures["compensation"]["rate_plans"][0]["amount_per_hour"] == "30.0000"


def test_a_release_is_immutable_and_the_next_one_excludes_a_withdrawn_speaker(
    corpus, dataset, release, django_capture_on_commit_callbacks
):
    speakers, recordings = corpus
    sha, size = release.manifest_sha256, release.manifest_bytes
    items = set(ReleaseItem.objects.filter(release=release).values_list("track_id", flat=True))
    withdraw(speakers[3], "training")
    assert manifest_digest(release.pk) == (sha, size)
    assert (
        set(ReleaseItem.objects.filter(release=release).values_list("track_id", flat=True)) == items
    )
    with django_capture_on_commit_callbacks(execute=True):
        second = services.create_release(dataset=dataset, version="1.1.0")
    second.refresh_from_db()
    release.refresh_from_db()
    assert release.status == ReleaseStatus.SUPERSEDED
    assert second.status == ReleaseStatus.CURRENT
    assert recordings[1].pk not in set(
        ReleaseItem.objects.filter(release=second).values_list("recording_id", flat=True)
    )
    assert second.recording_count == 3


def test_the_database_refuses_to_change_a_built_release(release):
    with pytest.raises(DatabaseError), transaction.atomic():
        type(release).objects.filter(pk=release.pk).update(manifest_sha256="0" * 64)
    with pytest.raises(DatabaseError), transaction.atomic():
        ReleaseItem.objects.filter(release=release).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        type(release).objects.filter(pk=release.pk).delete()
    type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.TAINTED)


def test_building_twice_changes_nothing(release):
    assert services.build_release(release_id=release.pk).manifest_sha256 == release.manifest_sha256
    assert ReleaseItem.objects.filter(release=release).count() == 8


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0", "0.9.0"])
def test_versions_are_semantic_unique_and_only_go_up(dataset, release, version):
    with pytest.raises(RegistryError):
        services.create_release(dataset=dataset, version=version)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("intended_purposes", ["everything"]),
        ("license_spdx", "WTFPL-9"),
        ("phase_fit", []),
        ("slug", "Bad Slug"),
        ("languages", ["english"]),
    ],
)
def test_a_bad_dataset_definition_is_refused(corpus, field, value):
    arguments = {
        "slug": "d",
        "name": "D",
        "description": "d",
        "purpose_statement": "p",
        "intended_purposes": ["training"],
        "license_spdx": "CC-BY-4.0",
        "phase_fit": ["pre"],
        "owner": "o",
        "redress_contact": "r",
        "processing_description": "none",
    } | {field: value}
    with pytest.raises(InvalidInput):
        services.create_dataset(**arguments)


def test_a_license_grants_only_what_the_consents_cover(dataset, release):
    from datetime import date

    from tests.factories import LicenseeFactory

    licensee = LicenseeFactory()
    with pytest.raises(InvalidInput):
        services.grant_license(
            licensee=licensee,
            dataset=dataset,
            purposes_allowed=["likeness"],
            derived_model_action="retrain",
            starts_on=date(2026, 1, 1),
        )
    with pytest.raises(InvalidInput):
        services.grant_license(
            licensee=licensee,
            dataset=dataset,
            purposes_allowed=["training"],
            derived_model_action="retrain",
            starts_on=date(2026, 1, 1),
            commercial_redistribution=True,
        )
    license_ = services.grant_license(
        licensee=licensee,
        dataset=dataset,
        purposes_allowed=["training"],
        derived_model_action="filter",
        starts_on=date(2026, 1, 1),
        releases=[release],
        includes_future_releases=True,
    )
    assert list(license_.releases.all()) == [release]
    assert license_.ack_deadline_days == 30


def test_a_speaker_sees_the_releases_their_recordings_are_in(client, corpus, release):
    from django.urls import reverse

    from tests.speakers.conftest import sign_in

    speakers, recordings = corpus
    sign_in(client, speakers[0])
    html = client.get(reverse("speakers:recordings")).content.decode()
    assert html.count("Duplex conversations 1.0.0") == 2  # calls 1 and 3; not call 6
    detail = client.get(reverse("speakers:recording", args=[recordings[5].public_id]))
    assert "Duplex conversations" not in detail.content.decode()


def test_only_recordings_that_existed_at_as_of_are_frozen(corpus, dataset):
    from django.utils import timezone

    from tests.consent.conftest import give
    from tests.factories import RecordingFactory, SpeakerFactory

    release = services.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    late = [SpeakerFactory(), SpeakerFactory()]
    for speaker in late:
        for purpose in ("recording", "training", "redistribution"):
            give(speaker, purpose)
    newcomer = RecordingFactory(speakers=late, recorded_at=timezone.now())
    built = services.build_release(release_id=release.pk)
    assert built.recording_count == 4
    assert not ReleaseItem.objects.filter(release=built, recording=newcomer).exists()


def test_a_build_interrupted_after_freezing_items_completes_on_retry(dataset, monkeypatch):
    release = services.create_release(dataset=dataset, version="1.0.0", enqueue=False)

    def crash(_release_id):
        raise RuntimeError("worker died")

    monkeypatch.setattr(services, "manifest_digest", crash)
    with pytest.raises(RuntimeError):
        services.build_release(release_id=release.pk)
    release.refresh_from_db()
    assert release.status == ReleaseStatus.BUILDING
    assert ReleaseItem.objects.filter(release=release).count() == 8
    monkeypatch.undo()
    built = services.build_release(release_id=release.pk)
    assert built.status == ReleaseStatus.CURRENT
    assert ReleaseItem.objects.filter(release=release).count() == 8


def test_a_built_release_takes_no_new_items_and_its_status_only_moves_forward(corpus, release):
    _speakers, recordings = corpus
    track = recordings[4].tracks.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        ReleaseItem.objects.create(release=release, recording=recordings[4], track=track)
    with pytest.raises(DatabaseError), transaction.atomic():
        type(release).objects.filter(pk=release.pk).update(public_id=uuid.uuid4())
    with pytest.raises(DatabaseError), transaction.atomic():
        type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.BUILDING)
    type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.WITHDRAWN)
    with pytest.raises(DatabaseError), transaction.atomic():
        type(release).objects.filter(pk=release.pk).update(status=ReleaseStatus.CURRENT)


def test_ingested_recording_facts_and_audio_digest_never_change(corpus, release):
    from registry.models import Recording
    from registry.services import attach_recording_audio

    _speakers, recordings = corpus
    with pytest.raises(InvalidInput):
        attach_recording_audio(
            recording=recordings[0], audio_uri="s3://elsewhere/x.flac", audio_sha256="f" * 64
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        Recording.objects.filter(pk=recordings[0].pk).update(duration_ms=1)
    moved = attach_recording_audio(
        recording=recordings[0],
        audio_uri="s3://moved/x.flac",
        audio_sha256=recordings[0].audio_sha256,
    )
    assert moved.audio_uri == "s3://moved/x.flac"  # the audio may move, never change
    assert manifest_digest(release.pk) == (release.manifest_sha256, release.manifest_bytes)


def test_a_release_stuck_building_is_failed_and_no_longer_blocks(dataset, time_machine):
    from django.utils import timezone

    stuck = services.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    time_machine.move_to(timezone.now() + services.BUILD_TIME_LIMIT + timezone.timedelta(minutes=1))
    fresh = services.create_release(dataset=dataset, version="1.1.0", enqueue=False)
    stuck.refresh_from_db()
    assert stuck.status == ReleaseStatus.FAILED
    assert fresh.status == ReleaseStatus.BUILDING


def test_a_final_version_follows_its_prerelease(dataset):
    services.create_release(dataset=dataset, version="1.0.0-rc.1", enqueue=False)
    services.mark_release_failed(
        release_id=dataset.releases.get().pk, error="test: let the next one build"
    )
    services.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    with pytest.raises(InvalidInput):
        services.create_release(dataset=dataset, version="1.0.0-rc.2", enqueue=False)


def test_a_dataset_with_nothing_eligible_fails_its_release(notices):
    dataset = services.create_dataset(
        slug="empty",
        name="Empty",
        description="d",
        purpose_statement="p",
        intended_purposes=["likeness"],
        license_spdx="CC-BY-4.0",
        phase_fit=["pre"],
        owner="o",
        redress_contact="r",
        processing_description="none",
    )
    release = services.create_release(dataset=dataset, version="1.0.0", enqueue=False)
    assert services.build_release(release_id=release.pk).status == ReleaseStatus.FAILED
