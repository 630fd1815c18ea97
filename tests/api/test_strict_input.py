"""The collection platform's consent act, strict: the issue's example (a second purpose
smuggled in as ``purposes``) is refused, not recorded for ``purpose`` alone; a refused
request leaves its Idempotency-Key free. The pass over every operation is
tests/security/test_unknown_members.py."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.urls import reverse

from consent.models import ConsentEvent
from consent.selectors import current_notice
from registry.models import Speaker
from tests.api.helpers import assert_problem, collector_client
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


def act_body(speaker: Speaker, **extra: Any) -> dict[str, Any]:
    notice = current_notice(speaker=speaker, purpose="training")
    assert notice is not None
    return {
        "action": "give",
        "purpose": "training",
        "notice": str(notice.public_id),
        "evidence": {"method": "web_form_signed", "signed_name": "Dana Example"},
        **extra,
    }


def post_act(speaker: Speaker, body: Any, key: str | None = None) -> Any:
    return collector_client().post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id}),
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()),
    )


def test_a_consent_act_naming_two_purposes_is_refused_and_records_nothing(notices: Any) -> None:
    speaker = SpeakerFactory()
    answer = post_act(speaker, act_body(speaker, purposes=["training", "likeness"]))
    problem = assert_problem(answer, 400, "unknown_members")
    assert problem["members"] == ["purposes"]
    assert "purposes" in problem["detail"]
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_an_unknown_member_of_the_evidence_is_named_by_its_path(notices: Any) -> None:
    speaker = SpeakerFactory()
    body = act_body(speaker)
    body["evidence"]["signedname"] = "Dana Example"
    problem = assert_problem(post_act(speaker, body), 400, "unknown_members")
    assert problem["members"] == ["evidence.signedname"]
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_a_member_only_answers_carry_is_not_accepted_in_a_request(notices: Any) -> None:
    speaker = SpeakerFactory()
    problem = assert_problem(
        post_act(speaker, act_body(speaker, event_id=str(uuid.uuid4()))), 400, "unknown_members"
    )
    assert problem["members"] == ["event_id"]


def test_a_purpose_named_twice_is_refused_and_records_nothing(notices: Any) -> None:
    speaker = SpeakerFactory()
    text = json.dumps(act_body(speaker)).replace(
        '"purpose": "training"', '"purpose": "training", "purpose": "likeness"'
    )
    answer = collector_client().post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id}),
        text,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    problem = assert_problem(answer, 400, "duplicate_members")
    assert problem["members"] == ["purpose"]
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_a_refused_act_leaves_its_idempotency_key_free_for_the_corrected_request(
    notices: Any,
) -> None:
    speaker = SpeakerFactory()
    key = str(uuid.uuid4())
    refused = post_act(speaker, act_body(speaker, purposes=["likeness"]), key=key)
    assert_problem(refused, 400, "unknown_members")
    answer = post_act(speaker, act_body(speaker), key=key)
    assert answer.status_code == 201, answer.content
    assert "Idempotent-Replayed" not in answer
    assert ConsentEvent.objects.filter(speaker=speaker, purpose="training").count() == 1
