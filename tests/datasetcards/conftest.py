"""A small seeded corpus with a realistic consent mix, a dataset over it, and a built
release (the build task runs in-process)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from compensation.services import publish_rate_plan
from datasetcards import services
from datasetcards.models import Release
from registry.services import register_campaign
from tests.consent.conftest import give, notices  # noqa: F401 - fixture
from tests.factories import RecordingFactory, SpeakerFactory

# (speaker index pairs, duration minutes, sample rate, language, jurisdiction)
CALLS = [
    ((0, 1), 30, 16_000, "en", "US-IL"),
    ((2, 3), 45, 48_000, "en", "US-IL"),
    ((0, 2), 60, 16_000, "en", "US-IL"),
    ((4, 5), 20, 24_000, "ja", "JP"),
    ((1, 6), 15, 16_000, "en", "US-IL"),  # speaker 6 gave training only: excluded
    ((7, 0), 10, 16_000, "en", "US-IL"),  # speaker 7 gave nothing but recording: excluded
]


@pytest.fixture
def corpus(notices):  # noqa: F811 - the imported fixture
    campaign = register_campaign(slug="duplex", name="Duplex")
    publish_rate_plan(
        campaign=campaign,
        currency="USD",
        amount_per_hour="30",
        effective_from=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    speakers = [
        SpeakerFactory(
            jurisdiction="JP" if i in (4, 5) else "US-IL",
            preferred_language="ja" if i in (4, 5) else "en",
        )
        for i in range(8)
    ]
    for i, speaker in enumerate(speakers):
        give(speaker, "recording")
        if i != 7:
            give(speaker, "training")
        if i not in (6, 7):
            give(speaker, "redistribution")
        if i in (0, 1):
            give(speaker, "biometric")
    recordings = [
        RecordingFactory(
            speakers=[speakers[a], speakers[b]],
            duration_ms=minutes * 60_000,
            sample_rate_hz=rate,
            language=language,
            jurisdiction=jurisdiction,
            campaign=campaign,
            recorded_at=timezone.now(),
            isolated_at_source=index != 2,
        )
        for index, ((a, b), minutes, rate, language, jurisdiction) in enumerate(CALLS)
    ]
    return speakers, recordings


@pytest.fixture
def dataset(corpus):
    return services.create_dataset(
        slug="duplex-en-ja",
        name="Duplex conversations",
        description="Two-channel conversations between consenting adults.",
        purpose_statement="Teaches full-duplex models when to speak and when to listen.",
        intended_purposes=["training", "redistribution"],
        license_spdx="CC-BY-NC-4.0",
        phase_fit=["post"],
        owner="Voice Consent Registry (demo)",
        redress_contact="privacy@registry.example",
        processing_description="Loudness normalised per channel; no other change.",
        isolated_at_source_only=False,
    )


@pytest.fixture
def release(dataset, eager_tasks, django_capture_on_commit_callbacks) -> Release:
    with django_capture_on_commit_callbacks(execute=True):
        created = services.create_release(dataset=dataset, version="1.0.0")
    created.refresh_from_db()
    return created
