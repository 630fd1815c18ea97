"""Pre-call consent through an invitation link: age first (refused below the minimum,
nothing kept), then recording consent for this call, other purposes each on their own;
the session is cleared only when every participant has consented."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import Consent, ConsentEvent, Purpose
from consent.selectors import cleared_to_record, current_notice
from consent.services import create_recording_session, invitation_token
from registry.models import AgeVerificationMethod
from tests.factories import SpeakerFactory

pytestmark = pytest.mark.django_db


def unverified(**kwargs):
    return SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED, **kwargs
    )


@pytest.fixture
def session(notices):
    first, second = unverified(), SpeakerFactory()
    return create_recording_session(
        external_ref="call-1", jurisdiction="US-IL", language="en", speakers=[first, second]
    )


def link(session, channel):
    participant = session.participants.get(channel=channel)
    return reverse("speakers:invitation", args=[invitation_token(participant)]), participant


def consent_to_recording(client, url, participant, **extra):
    notice = current_notice(speaker=participant.speaker, purpose="recording")
    return client.post(url + "consent/recording/", {"notice": str(notice.public_id), **extra})


def test_the_page_shows_who_has_consented_and_asks_for_age_first(client, session):
    url, _participant = link(session, 0)
    html = client.get(url).content.decode()
    assert "Participant 1 (you)" in html
    assert "Participant 2" in html
    assert html.count("awaited") == 2
    assert "Not cleared to record yet" in html
    assert 'name="date_of_birth"' in html


def test_an_under_age_participant_is_refused_and_their_birth_date_is_not_kept(client, session):
    url, participant = link(session, 0)
    today = timezone.now().date()
    response = client.post(url + "age/", {"date_of_birth": today.replace(year=today.year - 16)})
    assert response.status_code == 403
    assert "below the minimum age" in response.content.decode()
    participant.speaker.refresh_from_db()
    assert participant.speaker.date_of_birth is None
    assert participant.speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED
    refused = consent_to_recording(client, url, participant)
    assert refused.status_code == 410  # the under-age answer closed this invitation
    assert not ConsentEvent.objects.filter(speaker=participant.speaker, action="give").exists()


def test_a_bad_date_re_renders_with_a_message(client, session):
    url, _participant = link(session, 0)
    response = client.post(url + "age/", {"date_of_birth": "31/31/2000"})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    future = client.post(url + "age/", {"date_of_birth": "2999-01-01"})
    assert future.status_code == 400


def test_two_participants_consenting_clear_the_session(client, session):
    url, first = link(session, 0)
    client.post(url + "age/", {"date_of_birth": "1990-01-01"})
    assert consent_to_recording(client, url, first).status_code == 302
    assert not cleared_to_record(session)
    url2, second = link(session, 1)
    html = client.get(url2).content.decode()
    assert "consented" in html
    assert "Participant 2 (you)" in html
    consent_to_recording(client, url2, second)
    assert cleared_to_record(session)
    assert "cleared to record" in client.get(url2).content.decode()
    scoped = Consent.objects.get(speaker=second.speaker, purpose="recording")
    assert scoped.session == session


def test_other_purposes_are_optional_and_each_given_on_its_own_for_this_call(client, session):
    url, participant = link(session, 1)
    consent_to_recording(client, url, participant)
    page = client.get(url).content.decode()
    for purpose in ("training", "redistribution", "biometric", "likeness"):
        assert reverse("speakers:invitation-consent", args=[url.split("/")[2], purpose]) in page
    notice = current_notice(speaker=participant.speaker, purpose="training")
    client.post(url + "consent/training/", {"notice": str(notice.public_id)})
    purposes = set(
        Consent.objects.filter(speaker=participant.speaker, session=session).values_list(
            "purpose", flat=True
        )
    )
    assert purposes == {Purpose.RECORDING, Purpose.TRAINING}


def test_biometric_for_a_call_without_a_typed_name_is_refused(client, session):
    url, participant = link(session, 1)
    consent_to_recording(client, url, participant)
    notice = current_notice(speaker=participant.speaker, purpose="biometric")
    response = client.post(url + "consent/biometric/", {"notice": str(notice.public_id)})
    assert response.status_code == 400
    assert not Consent.objects.filter(speaker=participant.speaker, purpose="biometric").exists()


def test_a_forged_invitation_is_refused(client, session):
    response = client.get(reverse("speakers:invitation", args=["forged:token"]))
    assert response.status_code == 403
    assert "not valid" in response.content.decode()


def test_an_expired_invitation_is_refused(client, session, time_machine):
    url, participant = link(session, 1)
    time_machine.move_to(session.invite_expires_at + datetime.timedelta(minutes=1))
    assert client.get(url).status_code == 403
    assert consent_to_recording(client, url, participant).status_code == 403
