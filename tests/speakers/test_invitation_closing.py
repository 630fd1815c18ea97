"""Closing invitations through the invitation page: an under-age answer closes the link
for good (no date kept, re-answering refused), answers are rate-limited per link, and an
erased participant's link shows a closed page; the partner's page says why the call
cannot be recorded."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from consent import services
from consent.models import (
    ConsentAction,
    ConsentEvent,
    EvidenceMethod,
    ParticipantClosedReason,
    Purpose,
)
from consent.selectors import cleared_to_record, current_notice
from registry.models import AgeVerificationMethod
from speakers.views import INVITATION_AGE_RATE
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime.now(datetime.UTC).date()


def years_ago(years: int) -> str:
    return TODAY.replace(year=TODAY.year - years, day=min(TODAY.day, 28)).isoformat()


@pytest.fixture
def session(notices):
    invitee = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    return services.create_recording_session(
        external_ref="call-closing",
        jurisdiction="US-IL",
        language="en",
        speakers=[invitee, SpeakerFactory()],
    )


def link(session, channel):
    participant = session.participants.get(channel=channel)
    return reverse(
        "speakers:invitation", args=[services.invitation_token(participant)]
    ), participant


def test_an_under_age_answer_closes_the_invitation_and_records_a_refusal(client, session):
    url, participant = link(session, 0)
    response = client.post(url + "age/", {"date_of_birth": years_ago(16)})
    assert response.status_code == 403
    assert "the date of birth you entered was not kept" in response.content.decode()
    participant.refresh_from_db()
    assert participant.closed_reason == ParticipantClosedReason.UNDER_AGE
    refusal = ConsentEvent.objects.filter(speaker=participant.speaker, session=session).latest(
        "seq"
    )
    assert (refusal.action, refusal.purpose) == (ConsentAction.REFUSE, Purpose.RECORDING)
    participant.speaker.refresh_from_db()
    assert participant.speaker.date_of_birth is None


def test_re_answering_on_the_same_link_with_an_adult_date_is_refused(client, session):
    url, participant = link(session, 0)
    client.post(url + "age/", {"date_of_birth": years_ago(16)})
    response = client.post(url + "age/", {"date_of_birth": "1990-01-01"})
    assert response.status_code == 410
    assert "This invitation is closed" in response.content.decode()
    participant.speaker.refresh_from_db()
    assert participant.speaker.date_of_birth is None
    assert participant.speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED


def test_a_closed_link_shows_no_consent_form_and_no_agree_button(client, session):
    url, _participant = link(session, 0)
    client.post(url + "age/", {"date_of_birth": years_ago(16)})
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 410
    assert "minimum age was not met" in html
    assert 'name="date_of_birth"' not in html
    assert "I agree" not in html
    assert url + "consent/recording/" not in html
    assert url + "age/" not in html


def test_consent_posted_to_a_closed_link_is_refused_and_records_nothing(client, session):
    url, participant = link(session, 0)
    client.post(url + "age/", {"date_of_birth": years_ago(16)})
    events = ConsentEvent.objects.count()
    notice = current_notice(speaker=participant.speaker, purpose=Purpose.RECORDING)
    response = client.post(url + "consent/recording/", {"notice": str(notice.public_id)})
    assert response.status_code == 410
    assert ConsentEvent.objects.count() == events
    assert not cleared_to_record(session)


def test_a_date_of_birth_in_1800_is_a_form_error_that_changes_nothing(client, session):
    url, participant = link(session, 0)
    response = client.post(url + "age/", {"date_of_birth": "1800-01-01"})
    assert response.status_code == 400
    assert "before 1900" in response.content.decode()
    participant.refresh_from_db()
    assert participant.closed_reason == ""


def test_age_answers_are_rate_limited_per_invitation_link(client, session):
    url, participant = link(session, 0)
    allowed = int(INVITATION_AGE_RATE.split("/")[0])
    for _ in range(allowed):
        assert client.post(url + "age/", {"date_of_birth": "1800-01-01"}).status_code == 400
    response = client.post(url + "age/", {"date_of_birth": "1990-01-01"})
    assert response.status_code == 429
    assert "too many age answers" in response.content.decode()
    participant.speaker.refresh_from_db()
    assert participant.speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED


def test_the_partners_page_says_the_call_cannot_be_recorded(client, session):
    url, _ = link(session, 0)
    client.post(url + "age/", {"date_of_birth": years_ago(16)})
    partner_url, _ = link(session, 1)
    html = client.get(partner_url).content.decode()
    assert "This call cannot be recorded" in html
    assert "can no longer take part" in html


def test_an_erased_participants_link_shows_a_closed_page(client, session):
    url, participant = link(session, 0)
    services.request_erasure(
        speaker=participant.speaker,
        evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        actor=services.Actor.of_speaker(participant.speaker),
    )
    response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 410
    assert "You asked us to erase your data" in html
    assert "awaited" not in html
    assert "I agree" not in html
    participant.refresh_from_db()
    assert participant.closed_reason == ParticipantClosedReason.ERASED


def test_a_closed_invitation_speaks_the_sessions_language_on_an_english_browser(client, notices):
    invitee = SpeakerFactory(
        jurisdiction="JP",
        preferred_language="ja",
        date_of_birth=None,
        age_verification_method=AgeVerificationMethod.UNVERIFIED,
    )
    call = services.create_recording_session(
        external_ref="call-closing-ja",
        jurisdiction="JP",
        language="ja",
        speakers=[invitee, SpeakerFactory(jurisdiction="JP", preferred_language="ja")],
    )
    url, _participant = link(call, 0)
    client.post(url + "age/", {"date_of_birth": years_ago(16)}, HTTP_ACCEPT_LANGUAGE="en")
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 410
    page = response.content.decode()
    assert '<html lang="ja"' in page
    assert "This invitation is closed" not in page
