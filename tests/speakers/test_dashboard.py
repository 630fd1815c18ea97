"""The consent dashboard: five separate cards, nothing preselected, one purpose per act,
withdrawal as easy as giving, written consent where the law wants it, and the notice
served in the reader's language (recorded with the event)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consent.models import (
    Consent,
    ConsentEvent,
    ConsentOutbox,
    ConsentState,
    EvidenceMethod,
    Purpose,
)
from consent.selectors import current_notice
from tests.factories import SpeakerFactory
from tests.speakers.conftest import give, publish, sign_in

pytestmark = pytest.mark.django_db


def notice_id(speaker, purpose, language=None):
    return str(current_notice(speaker=speaker, purpose=purpose, language=language).public_id)


def test_the_dashboard_shows_five_separate_cards_with_nothing_preselected(client, notices):
    speaker = SpeakerFactory()
    html = sign_in(client, speaker).get(reverse("speakers:dashboard")).content.decode()
    for purpose in Purpose.values:
        assert f'id="consent-{purpose}"' in html
        assert reverse("speakers:give", args=[purpose]) in html
    assert "checked" not in html
    assert "Use of your voice for training." in html  # what saying yes allows, per card


def test_giving_training_records_exactly_one_event_for_training_only(client, notices):
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    page = client.get(reverse("speakers:give", args=["training"]))
    assert page.status_code == 200
    assert "I agree" in page.content.decode()
    response = client.post(
        reverse("speakers:give", args=["training"]),
        {"notice": notice_id(speaker, "training")},
        HTTP_USER_AGENT="pytest-browser",
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get(speaker=speaker)
    assert (event.purpose, event.action, event.evidence_method) == (
        "training",
        "give",
        EvidenceMethod.WEB_FORM,
    )
    assert event.notice_language == "en"
    assert event.ip_hash
    assert event.user_agent_hash
    assert list(Consent.objects.filter(speaker=speaker).values_list("purpose", flat=True)) == [
        "training"
    ]


def test_withdrawing_is_one_confirmation_that_states_the_consequences(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    sign_in(client, speaker)
    page = client.get(reverse("speakers:withdraw", args=["training"])).content.decode()
    assert "Future use stops now" in page
    assert "licensees" in page.lower()
    assert "retrained or filtered" in page
    response = client.post(reverse("speakers:withdraw", args=["training"]))
    assert response.status_code == 302
    consent = Consent.objects.get(speaker=speaker, purpose="training")
    assert consent.state == ConsentState.WITHDRAWN
    assert ConsentOutbox.objects.filter(event=consent.last_event).exists()
    dashboard = client.get(reverse("speakers:dashboard")).content.decode()
    assert "You withdrew consent" in dashboard


def test_biometric_consent_shows_the_retention_schedule_and_needs_a_typed_name(client, notices):
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    page = client.get(reverse("speakers:give", args=["biometric"])).content.decode()
    assert "Retention schedule" in page
    assert "Voiceprints are destroyed" in page
    assert 'name="signed_name"' in page
    refused = client.post(
        reverse("speakers:give", args=["biometric"]), {"notice": notice_id(speaker, "biometric")}
    )
    assert refused.status_code == 400
    assert not ConsentEvent.objects.exists()
    given = client.post(
        reverse("speakers:give", args=["biometric"]),
        {"notice": notice_id(speaker, "biometric"), "signed_name": "Maria Hernández"},
    )
    assert given.status_code == 302
    event = ConsentEvent.objects.get()
    assert event.evidence_method == EvidenceMethod.WEB_FORM_SIGNED
    assert event.signature.signed_name == "Maria Hernández"


def test_a_notice_replaced_while_reading_is_refused_and_nothing_is_recorded(client, notices):
    speaker = SpeakerFactory()
    sign_in(client, speaker)
    stale = notice_id(speaker, "training")
    publish("training", "US", "en", title="training v2")
    response = client.post(reverse("speakers:give", args=["training"]), {"notice": stale})
    assert response.status_code == 400
    assert "notice changed" in response.content.decode()
    assert not ConsentEvent.objects.exists()


def test_an_unknown_purpose_is_not_found(client, notices):
    sign_in(client, SpeakerFactory())
    assert client.get(reverse("speakers:give", args=["everything"])).status_code == 404
    assert client.post(reverse("speakers:withdraw", args=["everything"])).status_code == 404


def test_withdrawing_needs_a_post_with_a_csrf_token(notices):
    from django.test import Client

    speaker = SpeakerFactory()
    give(speaker, "training")
    client = sign_in(Client(enforce_csrf_checks=True), speaker)
    response = client.post(reverse("speakers:withdraw", args=["training"]))
    assert response.status_code == 403
    assert Consent.objects.get(speaker=speaker, purpose="training").state == ConsentState.GIVEN


def test_the_japanese_ui_serves_the_japanese_notice_and_records_its_language(client, notices):
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="en")
    sign_in(client, speaker)
    client.cookies["django_language"] = "ja"
    page = client.get(reverse("speakers:dashboard")).content.decode()
    assert "私の同意" in page
    assert 'lang="ja"' in page
    client.post(
        reverse("speakers:give", args=["training"]),
        {"notice": notice_id(speaker, "training", "ja")},
    )
    assert ConsentEvent.objects.get().notice_language == "ja"


def test_an_eu_speaker_reading_in_japanese_still_gets_the_notice_in_their_language(client, notices):
    speaker = SpeakerFactory(jurisdiction="DE", preferred_language="de")
    sign_in(client, speaker)
    client.cookies["django_language"] = "ja"
    page = client.get(reverse("speakers:give", args=["training"])).content.decode()
    assert 'lang="de"' in page  # GDPR: the notice in the speaker's language
    client.post(
        reverse("speakers:give", args=["training"]), {"notice": notice_id(speaker, "training")}
    )
    assert ConsentEvent.objects.get().notice_language == "de"


def test_signing_in_switches_the_ui_to_the_speakers_language(client, notices):
    from speakers.models import LinkIssuer
    from speakers.services import issue_sign_in_link

    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    client.post("/" + issued.url.split("/", 3)[3])
    assert client.cookies["django_language"].value == "ja"
    assert "私の同意" in client.get(reverse("speakers:dashboard")).content.decode()


def test_a_new_notice_version_asks_the_speaker_to_renew_and_renewal_records_it(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    publish("training", "US", "en", title="training v2")
    sign_in(client, speaker)
    html = client.get(reverse("speakers:dashboard")).content.decode()
    assert "The notice has changed since you answered" in html
    assert "Read and renew" in html
    response = client.post(
        reverse("speakers:give", args=["training"]), {"notice": notice_id(speaker, "training")}
    )
    assert response.status_code == 302
    latest = ConsentEvent.objects.filter(speaker=speaker).latest("seq")
    assert (latest.action, latest.notice.version) == ("renew", 2)
    assert (
        "The notice has changed" not in client.get(reverse("speakers:dashboard")).content.decode()
    )


def test_giving_a_consent_already_in_force_changes_nothing(client, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    sign_in(client, speaker)
    response = client.post(
        reverse("speakers:give", args=["training"]), {"notice": notice_id(speaker, "training")}
    )
    assert response.status_code == 302
    assert ConsentEvent.objects.filter(speaker=speaker).count() == 1
