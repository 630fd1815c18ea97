"""A biometric withdrawal's confirmation is true: the voiceprint is planned for
destruction at once (a target) and is due for the retention job from the withdrawal
on, so it is gone by the deadline the confirmation states (service and API doors; the
portal's confirmation page is in tests/speakers/test_erasure_notice.py)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from consent.models import Purpose
from consent.services.biometrics import (
    destruction_deadline,
    enroll_voiceprint,
    voiceprint_destruction,
)
from propagation import services as propagation
from propagation.models import PropagationTarget, TargetKind
from registry.models import VoiceprintTemplate
from tests.api.helpers import collector_client
from tests.api.test_collector_api import WRITE, act
from tests.consent.conftest import give, signed, withdraw
from tests.factories import SpeakerFactory
from tests.propagation.conftest import audio_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

WITHDRAW_BIOMETRIC = {
    "action": "withdraw",
    "purpose": "biometric",
    "evidence": {"method": "web_form"},
}


@pytest.fixture
def enrolled(notices, audio_dir):  # noqa: F811 - the imported fixture
    speaker = SpeakerFactory()
    give(speaker, Purpose.BIOMETRIC, evidence=signed())
    template = enroll_voiceprint(speaker=speaker, template=b"voiceprint")
    return speaker, template


def test_the_deadline_is_the_retention_jobs_interval_after_the_withdrawal(settings) -> None:
    at = datetime.datetime(2026, 5, 1, 9, 0, tzinfo=datetime.UTC)
    interval = settings.CELERY_BEAT_SCHEDULE["voiceprint-retention"]["schedule"]
    assert destruction_deadline(withdrawn_at=at) == at + datetime.timedelta(seconds=interval)


def test_a_biometric_withdrawal_plans_the_voiceprints_destruction_and_makes_it_due(
    enrolled,
) -> None:
    speaker, template = enrolled
    before = voiceprint_destruction(speaker=speaker)
    assert before.templates == 1
    withdraw(speaker, Purpose.BIOMETRIC)
    target = PropagationTarget.objects.get(kind=TargetKind.VOICEPRINT)
    assert target.voiceprint_id == template.pk
    template.refresh_from_db()
    assert template.purpose_met_at is not None
    assert template.retention_until <= timezone.now()
    # If the target could not deliver, the retention job alone destroys it by then.
    assert propagation.destroy_due_voiceprints() == 1
    template.refresh_from_db()
    assert (template.storage_name, template.destroyed_at is not None) == ("", True)
    assert voiceprint_destruction(speaker=speaker).templates == 0


def test_the_api_answer_to_a_biometric_withdrawal_says_what_is_destroyed_and_by_when(
    enrolled,
) -> None:
    speaker, template = enrolled
    response = act(collector_client(WRITE), speaker, WITHDRAW_BIOMETRIC)
    assert response.status_code == 201, response.content
    answer = response.json()["voiceprint_destruction"]
    assert answer["templates"] == 1
    destroyed_by = parse_datetime(answer["destroyed_by"])
    assert destroyed_by is not None
    withdrawn_at = parse_datetime(response.json()["events"][0]["recorded_at"])
    assert withdrawn_at is not None
    assert destroyed_by == destruction_deadline(withdrawn_at=withdrawn_at)
    assert PropagationTarget.objects.filter(
        kind=TargetKind.VOICEPRINT, voiceprint=template
    ).exists()
    assert VoiceprintTemplate.objects.get(pk=template.pk).retention_until <= destroyed_by


def test_the_api_answer_to_another_withdrawal_has_no_voiceprint_destruction(notices) -> None:
    speaker = SpeakerFactory()
    give(speaker, Purpose.TRAINING)
    body = {**WITHDRAW_BIOMETRIC, "purpose": "training"}
    response = act(collector_client(WRITE), speaker, body)
    assert response.status_code == 201, response.content
    assert response.json()["voiceprint_destruction"] is None
