"""The synthetic corpus generator: a small corpus loads, obeys the invariants and its
consent log verifies as one chain."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from consent import chain
from consent.corpus import generate_corpus, jsonb_text
from consent.eligibility import coverage_of, eligible_recordings, explain_eligibility
from consent.models import Consent, ConsentEvent, Purpose
from registry.models import Recording, RecordingStatus, Speaker, Track

pytestmark = pytest.mark.django_db


def test_a_small_corpus_loads_and_its_chain_verifies() -> None:
    stats = generate_corpus(recordings=300, seed=7, hub_recordings=(50,))
    assert Recording.objects.count() == 300
    assert Track.objects.count() == 600
    assert Speaker.objects.count() == stats.speakers == 101
    assert ConsentEvent.objects.count() == stats.events
    assert stats.withdrawals > 0
    report = chain.verify_chain(batch_size=97)
    assert report.ok, report.problem
    assert report.events_checked == stats.events
    # The hub speaker is on 50 calls.
    ((hub, calls),) = stats.hubs.items()
    assert Track.objects.filter(speaker_id=hub).count() == calls == 50


def test_generated_consents_follow_the_product_rules() -> None:
    generate_corpus(recordings=200, seed=3)
    # One state row per speaker and purpose, equal to that speaker's last event.
    assert Consent.objects.count() == Speaker.objects.count() * len(Purpose.values)
    for consent in Consent.objects.select_related("last_event")[:50]:
        assert consent.state == consent.last_event.state
    training = eligible_recordings(purpose=Purpose.TRAINING)
    assert 0 < training.count() < Recording.objects.count()
    # The one selector agrees with its explanation on generated data too.
    for recording in Recording.objects.all()[:40]:
        expected = training.filter(pk=recording.pk).exists()
        assert explain_eligibility(recording, Purpose.TRAINING).eligible == expected


def test_one_pass_coverage_equals_the_selector_per_purpose() -> None:
    generate_corpus(recordings=400, seed=5, hub_recordings=(40,))
    Recording.objects.filter(pk__in=Recording.objects.order_by("pk").values("pk")[:7]).update(
        status=RecordingStatus.QUARANTINED
    )
    subset = Recording.objects.filter(pk__in=Recording.objects.order_by("-pk").values("pk")[:250])
    moments = [timezone.now(), timezone.now() - datetime.timedelta(days=200)]
    for recordings in (Recording.objects.all(), subset):
        for at in moments:
            coverage = coverage_of(recordings, at=at)
            assert coverage.total == recordings.count()
            for purpose in Purpose.values:
                expected = eligible_recordings(purpose=purpose, at=at).filter(
                    pk__in=recordings.values("pk")
                )
                assert coverage.covered[purpose] == expected.count(), (purpose, at)
    # Not a vacuous equality: some recordings are covered and some are not.
    coverage = coverage_of(Recording.objects.all(), at=moments[0])
    assert 0 < coverage.covered[Purpose.TRAINING] < coverage.total


def test_a_second_load_extends_the_same_chain() -> None:
    generate_corpus(recordings=50, seed=11)
    first = list(ConsentEvent.objects.order_by("seq").values_list("hash", flat=True))
    assert len(first) > 0
    # A second load continues the same chain rather than starting another one.
    generate_corpus(recordings=50, seed=11)
    assert chain.verify_chain().ok


def test_jsonb_text_matches_postgresql(django_db_blocker) -> None:
    from django.db import connection

    value = [1, 'a"b', None, [{"jurisdiction": "US", "id": 1, "citation": "x § 1"}], "ü"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [jsonb_text(value)])
        assert cursor.fetchone()[0] == jsonb_text(value)


def test_generate_corpus_command_reports_and_refuses_nonsense(capsys) -> None:
    call_command("generate_corpus", "--recordings", "30", "--seed", "2", verbosity=0)
    assert "generated 30 recordings, 60 tracks" in capsys.readouterr().out
    with pytest.raises(CommandError, match="positive"):
        call_command("generate_corpus", "--recordings", "0", verbosity=0)
