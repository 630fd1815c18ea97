"""A notice answers one purpose: an act for training under the likeness notice is refused
as ``notice_wrong_purpose`` (not "the notice changed", which sends the speaker to read a
new version that does not exist), through the services, the API, the portal and the
invitation page, and nothing is recorded."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consent import services
from consent.errors import NoticeWrongPurpose
from consent.models import ConsentEvent
from consent.selectors import current_notice
from consent.services import create_recording_session, invitation_token
from tests.api.helpers import assert_problem, collector_client
from tests.consent.conftest import signed
from tests.factories import SpeakerFactory
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

WORDING = "This notice is about another consent than the one you were giving."


def likeness_notice(speaker: Any) -> Any:
    notice = current_notice(speaker=speaker, purpose="likeness")
    assert notice is not None
    return notice


@pytest.mark.parametrize("act", [services.give_consent, services.refuse_consent])
def test_an_act_under_another_purposes_notice_is_refused_and_records_nothing(
    notices: Any, act: Any
) -> None:
    speaker = SpeakerFactory()
    with pytest.raises(NoticeWrongPurpose) as refused:
        act(
            speaker=speaker,
            purpose="training",
            notice=likeness_notice(speaker),
            evidence=signed(),
            actor=services.Actor.of_speaker(speaker),
        )
    assert refused.value.code == "notice_wrong_purpose"
    assert refused.value.field == "notice"
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_the_api_refuses_an_act_under_another_purposes_notice(notices: Any) -> None:
    speaker = SpeakerFactory()
    answer = collector_client().post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id}),
        {
            "action": "give",
            "purpose": "training",
            "notice": str(likeness_notice(speaker).public_id),
            "evidence": {"method": "web_form_signed", "signed_name": "Dana Example"},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    problem = assert_problem(answer, 400, "notice_wrong_purpose")
    assert problem["field"] == "notice"
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_the_portal_says_the_notice_is_for_another_consent(client: Client, notices: Any) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    url = reverse("speakers:give", args=["training"])
    data = {"notice": str(likeness_notice(speaker).public_id)}
    if 'name="signed_name"' in client.get(url).content.decode():
        data["signed_name"] = "Dana Example"
    answer = client.post(url, data)
    html = answer.content.decode()
    assert answer.status_code == 400
    assert WORDING in html
    assert "The notice changed while you were reading it" not in html
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_the_invitation_page_says_the_notice_is_for_another_consent(
    client: Client, notices: Any
) -> None:
    speaker = SpeakerFactory()
    session = create_recording_session(
        external_ref="call-wrong-notice",
        jurisdiction="US-IL",
        language="en",
        speakers=[speaker, SpeakerFactory()],
    )
    participant = session.participants.get(speaker=speaker)
    url = reverse("speakers:invitation", args=[invitation_token(participant)])
    data = {"notice": str(likeness_notice(speaker).public_id)}
    if 'name="signed_name"' in client.get(url).content.decode():
        data["signed_name"] = "Dana Example"
    answer = client.post(url + "consent/recording/", data)
    html = answer.content.decode()
    assert answer.status_code == 400
    assert WORDING in html
    assert "The notice changed while you were reading it" not in html
    assert not ConsentEvent.objects.filter(speaker=speaker, action="give").exists()
