from __future__ import annotations

import io
import json

import pytest
from django.utils import timezone

from consent.eligibility import RecordingFilters
from consent.exports import export_eligible_tracks_jsonl
from consent.models import Purpose
from tests.consent.conftest import give_all
from tests.factories import RecordingFactory, SpeakerFactory

pytestmark = pytest.mark.django_db


def test_export_streams_one_json_line_per_eligible_track_and_no_personal_data(notices) -> None:
    a, b, c = SpeakerFactory(), SpeakerFactory(), SpeakerFactory()
    give_all(a, Purpose.RECORDING, Purpose.TRAINING)
    give_all(b, Purpose.RECORDING, Purpose.TRAINING)
    give_all(c, Purpose.RECORDING)
    eligible = RecordingFactory(speakers=[a, b], recorded_at=timezone.now(), language="en")
    RecordingFactory(speakers=[a, c], recorded_at=timezone.now())  # c: no training
    out = io.BytesIO()
    written = export_eligible_tracks_jsonl(out=out, purpose=Purpose.TRAINING)
    lines = out.getvalue().decode().splitlines()
    assert written == len(out.getvalue())
    rows = [json.loads(line) for line in lines]
    assert [(r["recording"], r["channel"]) for r in rows] == [
        (str(eligible.public_id), 0),
        (str(eligible.public_id), 1),
    ]
    assert rows[0]["speaker"] == str(a.public_id)
    assert rows[0]["audio_sha256"] == eligible.audio_sha256
    text = out.getvalue().decode()
    for speaker in (a, b):
        assert speaker.name not in text
        assert speaker.email not in text


def test_export_applies_filters(notices) -> None:
    a, b = SpeakerFactory(), SpeakerFactory()
    give_all(a, Purpose.RECORDING, Purpose.TRAINING)
    give_all(b, Purpose.RECORDING, Purpose.TRAINING)
    RecordingFactory(speakers=[a, b], recorded_at=timezone.now(), language="en")
    out = io.BytesIO()
    export_eligible_tracks_jsonl(
        out=out, purpose=Purpose.TRAINING, filters=RecordingFilters(languages=("ja",))
    )
    assert out.getvalue() == b""
