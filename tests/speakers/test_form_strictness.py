"""Every form a speaker (or an invitee) can post refuses a field it does not have and a
field sent twice: the page comes back (400) saying what is wrong, and nothing is written.
One door per test: the portal's consent, withdrawal, sign-in, link, password, erasure and
receipt-check forms, and the invitation page's age, consent and withdrawal forms."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django import forms as django_forms
from django.test import Client
from django.urls import reverse

from consent.models import Consent, ConsentEvent
from consent.selectors import current_notice
from consent.services import create_recording_session, invitation_token
from registry.forms import StrictForm
from registry.models import AgeVerificationMethod, Speaker
from speakers import forms
from speakers.models import LinkIssuer, SignInLink
from speakers.services import ensure_account, issue_sign_in_link, set_speaker_password
from tests.factories import SpeakerFactory
from tests.security.hostile import StateGuard
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

UNKNOWN = "does not have"
TWICE = "more than once"
PASSWORD = "a long and unusual passphrase 7"
# A re-rendered page may keep a message for the next one: the session, not the registry.
SESSION_TABLES = {"django_session"}


@contextmanager
def nothing_written() -> Iterator[None]:
    guard = StateGuard()
    yield
    assert set(guard.changed_tables()) <= SESSION_TABLES


def refused(response: Any, says: str, names: str) -> str:
    """The page came back with the message that says what was wrong, naming it."""
    html: str = response.content.decode()
    assert response.status_code == 400, html[:500]
    assert says in html, html[:2000]
    assert f"“{names}”" in html
    return html


def notice_id(speaker: Speaker, purpose: str) -> str:
    notice = current_notice(speaker=speaker, purpose=purpose)
    assert notice is not None
    return str(notice.public_id)


def give_form(client: Client, speaker: Speaker, purpose: str) -> dict[str, str]:
    """What the portal's consent page posts for ``purpose``."""
    html = client.get(reverse("speakers:give", args=[purpose])).content.decode()
    data = {"notice": notice_id(speaker, purpose)}
    if 'name="signed_name"' in html:
        data["signed_name"] = "Dana Example"
    return data


# --- The portal --------------------------------------------------------------------------


def test_a_consent_form_with_a_second_notice_is_refused_and_records_nothing(
    client: Client, notices: Any
) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    data = give_form(client, speaker, "training")
    data["notice"] = [data["notice"], notice_id(speaker, "likeness")]  # type: ignore[assignment]
    with nothing_written():
        refused(client.post(reverse("speakers:give", args=["training"]), data), TWICE, "notice")
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


def test_a_consent_form_with_a_field_it_does_not_have_is_refused_and_records_nothing(
    client: Client, notices: Any
) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    data = {**give_form(client, speaker, "training"), "purposes": "likeness"}
    with nothing_written():
        refused(client.post(reverse("speakers:give", args=["training"]), data), UNKNOWN, "purposes")
    # The same form without it is taken: the refusal was for the surplus field alone.
    data.pop("purposes")
    assert client.post(reverse("speakers:give", args=["training"]), data).status_code == 302
    assert ConsentEvent.objects.filter(speaker=speaker, purpose="training").count() == 1


def test_a_withdrawal_with_a_field_it_does_not_have_is_refused_and_keeps_the_consent(
    client: Client, notices: Any
) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    assert (
        client.post(
            reverse("speakers:give", args=["training"]), give_form(client, speaker, "training")
        ).status_code
        == 302
    )
    url = reverse("speakers:withdraw", args=["training"])
    with nothing_written():
        refused(client.post(url, {"purpose": "likeness"}), UNKNOWN, "purpose")
    assert Consent.objects.get(speaker=speaker, purpose="training", session=None).state == "given"


def test_a_password_sign_in_with_a_field_it_does_not_have_is_refused(client: Client) -> None:
    speaker = SpeakerFactory()
    set_speaker_password(account=ensure_account(speaker=speaker), password=PASSWORD)
    data = {"pw-email": speaker.email, "pw-password": PASSWORD, "next": "/me/"}
    with nothing_written():
        refused(
            client.post(reverse("speakers:sign-in"), {**data, "remember": "1"}),
            UNKNOWN,
            "remember",
        )
    assert "_auth_user_id" not in client.session
    # ``next`` is the page's own field: with it alone, the sign-in goes through.
    assert client.post(reverse("speakers:sign-in"), data).status_code == 302
    assert "_auth_user_id" in client.session


def test_a_sign_in_link_request_with_the_email_twice_is_refused_and_sends_nothing(
    client: Client,
) -> None:
    first, second = SpeakerFactory(), SpeakerFactory()
    with nothing_written():
        refused(
            client.post(
                reverse("speakers:request-link"), {"link-email": [first.email, second.email]}
            ),
            TWICE,
            "link-email",
        )
    assert not SignInLink.objects.exists()


def test_a_sign_in_link_redeemed_with_a_field_it_does_not_have_is_refused_and_kept(
    client: Client,
) -> None:
    speaker = SpeakerFactory()
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    with nothing_written():
        refused(client.post(issued.url, {"speaker": "someone-else"}), UNKNOWN, "speaker")
    assert "_auth_user_id" not in client.session
    assert client.post(issued.url).status_code == 302  # the link still works once


def test_a_new_password_sent_twice_is_refused_and_not_set(client: Client) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    data = {"password1": [PASSWORD, "another long passphrase 8"], "password2": PASSWORD}
    with nothing_written():
        refused(client.post(reverse("speakers:password"), data), TWICE, "password1")
    ensure_account(speaker=speaker).user.refresh_from_db()
    assert not ensure_account(speaker=speaker).user.check_password(PASSWORD)


def test_an_erasure_request_with_a_field_it_does_not_have_is_refused_and_not_recorded(
    client: Client, notices: Any
) -> None:
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    data = {"understood": "on", "speaker": "everyone"}
    with nothing_written():
        refused(client.post(reverse("speakers:erasure"), data), UNKNOWN, "speaker")
    speaker.refresh_from_db()
    assert speaker.erased_at is None


def test_a_receipt_check_with_the_receipt_twice_is_refused(client: Client) -> None:
    data = {"receipt": ['{"receipt": {}, "signature": {}}', "{}"]}
    refused(client.post(reverse("speakers:verify"), data), TWICE, "receipt")


# --- The invitation page -------------------------------------------------------------------


@pytest.fixture
def call(notices: Any) -> Any:
    """A call of an invitee whose age is not known yet and one whose age is."""
    unverified = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    return create_recording_session(
        external_ref="call-strict",
        jurisdiction="US-IL",
        language="en",
        speakers=[unverified, SpeakerFactory()],
    )


def invitation(session: Any, channel: int) -> tuple[str, Any]:
    participant = session.participants.get(channel=channel)
    return reverse("speakers:invitation", args=[invitation_token(participant)]), participant


def consent_form(client: Client, url: str, participant: Any, purpose: str) -> dict[str, str]:
    """What the invitation page posts to give ``purpose`` for the call."""
    data = {"notice": notice_id(participant.speaker, purpose)}
    if 'name="signed_name"' in client.get(url).content.decode():
        data["signed_name"] = "Dana Example"
    return data


def test_an_age_answer_with_two_dates_of_birth_is_refused_and_not_kept(
    client: Client, call: Any
) -> None:
    url, participant = invitation(call, 0)
    data = {"date_of_birth": ["2010-05-01", "1990-01-01"]}
    with nothing_written():
        refused(client.post(url + "age/", data), TWICE, "date_of_birth")
    participant.speaker.refresh_from_db()
    assert participant.speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED
    assert participant.speaker.date_of_birth is None


def test_a_recording_consent_for_the_call_with_a_second_notice_is_refused(
    client: Client, call: Any
) -> None:
    url, participant = invitation(call, 1)
    data = consent_form(client, url, participant, "recording")
    data["notice"] = [data["notice"], notice_id(participant.speaker, "likeness")]  # type: ignore[assignment]
    with nothing_written():
        refused(client.post(url + "consent/recording/", data), TWICE, "notice")
    assert not ConsentEvent.objects.filter(speaker=participant.speaker, action="give").exists()


def test_another_consent_for_the_call_with_a_field_it_does_not_have_is_refused(
    client: Client, call: Any
) -> None:
    url, participant = invitation(call, 1)
    given = client.post(
        url + "consent/recording/", consent_form(client, url, participant, "recording")
    )
    assert given.status_code == 302
    data = {**consent_form(client, url, participant, "training"), "also": "likeness"}
    with nothing_written():
        refused(client.post(url + "consent/training/", data), UNKNOWN, "also")
    assert not ConsentEvent.objects.filter(
        speaker=participant.speaker, purpose="training", action="give"
    ).exists()


def test_a_withdrawal_for_the_call_with_a_field_it_does_not_have_is_refused(
    client: Client, call: Any
) -> None:
    url, participant = invitation(call, 1)
    client.post(url + "consent/recording/", consent_form(client, url, participant, "recording"))
    with nothing_written():
        refused(client.post(url + "withdraw/recording/", {"purpose": "all"}), UNKNOWN, "purpose")
    consent = Consent.objects.get(speaker=participant.speaker, purpose="recording", session=call)
    assert consent.state == "given"


# --- Every form ----------------------------------------------------------------------------

# A read's filter (GET): other query parameters change nothing that is kept.
READ_FILTERS = {forms.PeriodForm}


def test_every_form_the_portal_binds_to_a_post_is_strict() -> None:
    loose = [
        name
        for name, form in inspect.getmembers(forms, inspect.isclass)
        if issubclass(form, django_forms.BaseForm)
        and form.__module__ == forms.__name__
        and form not in READ_FILTERS
        and not issubclass(form, StrictForm)
    ]
    assert not loose, loose
