"""Languages: a speaker is offered every language their jurisdiction has notices in; the
portal opens in the speaker's own language, the invitation page in the session's; the
switcher's choice is honoured (and becomes the speaker's own in the portal); the notice
is the one in the language the page is read in, and no speaker is ever refused for a
language the product picked for them. The API still needs the speaker's own language."""

from __future__ import annotations

import io
import uuid

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from consent import services as consent_services
from consent.errors import NoticeWrongLanguage
from consent.models import (
    Consent,
    ConsentAction,
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
)
from consent.selectors import current_notice
from consent.services import create_recording_session, invitation_token
from registry.models import Speaker, TokenScope
from speakers import selectors
from speakers.services import ensure_account, set_speaker_password
from tests.api.helpers import collector_client
from tests.factories import SpeakerFactory
from tests.speakers.conftest import publish, sign_in

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def german(**kwargs) -> Speaker:
    return SpeakerFactory(
        **{"jurisdiction": "DE", "preferred_language": "de", "name": "Jürgen Weiß", **kwargs}
    )


def consent_form(speaker: Speaker, purpose: str, notice: ConsentNotice) -> dict[str, str]:
    """What the page's form sends: the notice, and a typed name where the law wants one."""
    card = selectors.consent_card(speaker=speaker, purpose=purpose, language=notice.language)
    form = {"notice": str(notice.public_id)}
    if card.written:
        form["signed_name"] = speaker.name or "Jürgen Weiß"
    return form


def give_in_portal(client: Client, speaker: Speaker, purpose: str, language: str):
    """Give ``purpose`` the way the page offers it, with the notice in ``language``."""
    notice = current_notice(speaker=speaker, purpose=purpose, language=language)
    return client.post(
        reverse("speakers:give", args=[purpose]), consent_form(speaker, purpose, notice)
    )


# --- Which languages -------------------------------------------------------------------


def test_an_eu_speaker_is_offered_every_language_the_eu_notices_exist_in(notices):
    assert selectors.speaker_languages(speaker=german()) == ["en", "de", "fr"]


def test_a_japanese_speaker_is_offered_english_and_japanese_only(notices):
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    assert selectors.speaker_languages(speaker=speaker) == ["en", "ja"]


def test_a_us_speaker_is_offered_english_only(notices):
    assert selectors.speaker_languages(speaker=SpeakerFactory(jurisdiction="US-IL")) == ["en"]


def test_a_language_with_notices_for_some_purposes_only_is_not_offered(notices):
    publish(Purpose.RECORDING, "JP", "fr")
    speaker = SpeakerFactory(jurisdiction="JP", preferred_language="fr")
    assert selectors.speaker_languages(speaker=speaker) == ["en", "ja"]
    assert selectors.portal_language(speaker=speaker) == "en"


def test_a_retired_notice_no_longer_offers_its_language(notices):
    notice = notices[(Purpose.LIKENESS, "EU", "fr")]
    consent_services.retire_notice(notice=notice)
    assert selectors.speaker_languages(speaker=german()) == ["en", "de"]


# --- The portal --------------------------------------------------------------------------


def test_a_german_speaker_reads_the_portal_in_german_whatever_the_browser_says(client, notices):
    speaker = german()
    sign_in(client, speaker)
    html = client.get(reverse("speakers:dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="de"' in html
    assert "Meine Einwilligungen" in html


def test_a_german_speaker_gives_consent_in_the_portal_under_the_german_notice(client, notices):
    speaker = german()
    sign_in(client, speaker)
    response = give_in_portal(client, speaker, Purpose.TRAINING, "de")
    assert response.status_code == 302, response.content.decode()
    event = ConsentEvent.objects.get(speaker=speaker, purpose=Purpose.TRAINING)
    assert event.notice_language == "de"
    assert event.notice == notices[(Purpose.TRAINING, "EU", "de")]


def test_signing_in_with_a_password_opens_the_portal_in_the_speakers_language(client, notices):
    speaker = german(email="juergen@example.de")
    set_speaker_password(account=ensure_account(speaker=speaker), password="correct horse 42")
    client.cookies[COOKIE] = "en"  # the last person on this computer read English
    response = client.post(
        reverse("speakers:sign-in"),
        {"pw-email": "juergen@example.de", "pw-password": "correct horse 42"},
    )
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "de"
    assert 'lang="de"' in client.get(reverse("speakers:dashboard")).content.decode()


def test_signing_in_with_a_link_opens_the_portal_in_french_for_a_french_speaker(client, notices):
    from speakers.models import LinkIssuer
    from speakers.services import issue_sign_in_link

    speaker = SpeakerFactory(jurisdiction="FR", preferred_language="fr")
    issued = issue_sign_in_link(speaker=speaker, issued_by=LinkIssuer.SPEAKER)
    response = client.post("/" + issued.url.split("/", 3)[3])
    assert response.cookies[COOKIE].value == "fr"
    assert "Mes consentements" in client.get(reverse("speakers:dashboard")).content.decode()


def test_the_switcher_offers_only_the_speakers_languages_with_a_label(client, notices):
    sign_in(client, german())
    html = client.get(reverse("speakers:dashboard")).content.decode()
    assert f'action="{reverse("speakers:language")}"' in html
    assert '<label for="language-select">' in html
    assert 'value="fr"' in html
    assert 'value="ja"' not in html
    assert "<script" not in html


def test_switching_language_in_the_portal_makes_it_the_speakers_own(client, notices):
    speaker = german()
    sign_in(client, speaker)
    response = client.post(
        reverse("speakers:language"), {"language": "fr", "next": reverse("speakers:dashboard")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("speakers:dashboard")
    assert response.cookies[COOKIE].value == "fr"
    speaker.refresh_from_db()
    assert speaker.preferred_language == "fr"
    assert 'lang="fr"' in client.get(reverse("speakers:dashboard")).content.decode()


def test_a_speaker_reading_in_french_consents_under_the_french_notice(client, notices):
    speaker = german()
    sign_in(client, speaker)
    client.post(reverse("speakers:language"), {"language": "fr"})
    speaker.refresh_from_db()
    response = give_in_portal(client, speaker, Purpose.RECORDING, "fr")
    assert response.status_code == 302, response.content.decode()
    assert ConsentEvent.objects.get(speaker=speaker).notice_language == "fr"


def test_a_language_not_offered_to_the_speaker_is_refused_and_changes_nothing(client, notices):
    speaker = german()
    sign_in(client, speaker)
    response = client.post(
        reverse("speakers:language"), {"language": "ja", "next": reverse("speakers:dashboard")}
    )
    assert response.status_code == 302
    assert COOKIE not in response.cookies
    speaker.refresh_from_db()
    assert speaker.preferred_language == "de"
    html = client.get(reverse("speakers:dashboard")).content.decode()
    assert "Diese Sprache wird dort, wo Sie leben, nicht angeboten." in html


def test_a_regional_preference_is_kept_when_the_switcher_agrees_with_it(client, notices):
    speaker = german(preferred_language="de-AT")
    sign_in(client, speaker)
    client.post(reverse("speakers:language"), {"language": "de"})
    speaker.refresh_from_db()
    assert speaker.preferred_language == "de-AT"


def test_a_speaker_whose_language_has_no_notice_is_not_refused_for_the_portals_choice(
    client, notices
):
    """A Spanish speaker living in Germany: no Spanish notice exists there, so the
    portal picks English (the switcher offers German and French too), and answering
    the English notice is not refused under the "speaker's language" rule."""
    speaker = SpeakerFactory(jurisdiction="DE", preferred_language="es", name="Lucía Gómez")
    sign_in(client, speaker)
    assert 'lang="en"' in client.get(reverse("speakers:dashboard")).content.decode()
    response = give_in_portal(client, speaker, Purpose.RECORDING, "en")
    assert response.status_code == 302, response.content.decode()
    assert ConsentEvent.objects.get(speaker=speaker).notice_language == "en"


def test_a_cookie_for_a_language_not_offered_is_ignored_by_the_portal(client, notices):
    speaker = german()
    sign_in(client, speaker)
    client.cookies[COOKIE] = "ja"
    assert 'lang="de"' in client.get(reverse("speakers:dashboard")).content.decode()


def test_a_visitor_who_is_not_signed_in_switches_with_djangos_set_language(client):
    html = client.get(reverse("speakers:sign-in")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    response = client.post(reverse("set_language"), {"language": "de", "next": "/signin/"})
    assert response.cookies[COOKIE].value == "de"
    assert 'lang="de"' in client.get(reverse("speakers:sign-in")).content.decode()


# --- The rule: the notice in the speaker's language ---------------------------------------


def test_the_api_door_still_refuses_a_notice_outside_the_speakers_language(notices):
    speaker = german()
    with pytest.raises(NoticeWrongLanguage):
        consent_services.give_consent(
            speaker=speaker,
            purpose=Purpose.RECORDING,
            notice=notices[(Purpose.RECORDING, "EU", "en")],
            evidence=consent_services.Evidence(
                method=EvidenceMethod.WEB_FORM_SIGNED, signed_name="Jürgen Weiß"
            ),
            actor=consent_services.Actor.of_speaker(speaker),
        )
    assert not Consent.objects.filter(speaker=speaker).exists()


def test_the_api_refuses_a_german_speaker_the_english_notice_with_its_code(notices):
    speaker = german()
    response = collector_client([TokenScope.WRITE_CONSENT]).post(
        reverse("api:collector-speaker-consents", kwargs={"speaker_id": speaker.public_id}),
        {
            "action": "give",
            "purpose": "recording",
            "notice": str(notices[(Purpose.RECORDING, "EU", "en")].public_id),
            "evidence": {"method": "web_form_signed", "signed_name": "Jürgen Weiß"},
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "notice_wrong_language"
    assert not ConsentEvent.objects.filter(speaker=speaker).exists()


# --- The invitation page ------------------------------------------------------------------


def invite(*speakers: Speaker, language: str):
    session = create_recording_session(
        external_ref=f"call-{language}", jurisdiction="JP", language=language, speakers=speakers
    )
    participant = session.participants.get(channel=0)
    return reverse("speakers:invitation", args=[invitation_token(participant)]), participant


def test_a_japanese_invitee_on_an_english_browser_reads_the_japanese_notice(client, notices):
    invitee = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    url, _participant = invite(invitee, SpeakerFactory(jurisdiction="JP"), language="ja")
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="ja"' in html
    assert notices[(Purpose.RECORDING, "JP", "ja")].title in html
    assert notices[(Purpose.RECORDING, "JP", "en")].title not in html


def test_the_invitation_switcher_returns_to_the_page_in_the_chosen_language(client, notices):
    invitee = SpeakerFactory(jurisdiction="JP", preferred_language="ja")
    url, _participant = invite(invitee, SpeakerFactory(jurisdiction="JP"), language="ja")
    html = client.get(url).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert f'name="next" type="hidden" value="{url}"' in html
    client.post(reverse("set_language"), {"language": "en", "next": url})
    html = client.get(url).content.decode()
    assert 'lang="en"' in html
    assert notices[(Purpose.RECORDING, "JP", "en")].title in html


def test_an_invitee_consents_under_the_notice_of_the_session_language_they_read(client, notices):
    """The product picked English (the call's language) for a German invitee whose law
    wants the notice in their language: reading it in English is theirs, not refused."""
    invitee = german(age_verification_method="platform_attestation", age_attested_minimum=18)
    invitee.date_of_birth = None
    invitee.save()
    session = create_recording_session(
        external_ref="call-eu", jurisdiction="DE", language="en", speakers=[invitee, german()]
    )
    participant = session.participants.get(channel=0)
    url = reverse("speakers:invitation", args=[invitation_token(participant)])
    assert 'lang="en"' in client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    notice = current_notice(speaker=invitee, purpose=Purpose.RECORDING, language="en")
    response = client.post(
        url + "consent/recording/", consent_form(invitee, Purpose.RECORDING, notice)
    )
    assert response.status_code == 302, response.content.decode()
    event = ConsentEvent.objects.get(speaker=invitee, session=session, action=ConsentAction.GIVE)
    assert event.notice_language == "en"


def test_an_invitee_cannot_consent_under_a_notice_in_a_language_they_were_not_shown(
    client, notices
):
    invitee = german(age_verification_method="platform_attestation", age_attested_minimum=18)
    invitee.date_of_birth = None
    invitee.save()
    session = create_recording_session(
        external_ref="call-eu", jurisdiction="DE", language="de", speakers=[invitee, german()]
    )
    participant = session.participants.get(channel=0)
    url = reverse("speakers:invitation", args=[invitation_token(participant)])
    french: ConsentNotice = notices[(Purpose.RECORDING, "EU", "fr")]
    response = client.post(
        url + "consent/recording/", consent_form(invitee, Purpose.RECORDING, french)
    )
    assert response.status_code == 400
    assert "Das Recht Ihres Wohnsitzlandes verlangt den Hinweis in Ihrer Sprache." in (
        response.content.decode()
    )
    assert not ConsentEvent.objects.filter(speaker=invitee, action=ConsentAction.GIVE).exists()


# --- What the portal sends ------------------------------------------------------------------


def test_a_german_speaker_gets_the_sign_in_email_in_german(
    client, notices, django_capture_on_commit_callbacks, eager_tasks
):
    german(email="anna@example.de")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("speakers:request-link"), {"link-email": "anna@example.de"})
    assert mail.outbox[0].subject == "Ihr Anmeldelink für das Register für Stimmeinwilligungen"
    assert mail.outbox[0].body.startswith("Hallo,")


def test_a_speaker_whose_language_is_not_offered_gets_english_email(
    client, notices, django_capture_on_commit_callbacks, eager_tasks
):
    SpeakerFactory(email="pablo@example.org", jurisdiction="US-CA", preferred_language="es")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("speakers:request-link"), {"link-email": "pablo@example.org"})
    assert mail.outbox[0].subject == "Your sign-in link for the voice consent registry"


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_french_speakers_receipt_pdf_is_in_french(client, notices):
    speaker = SpeakerFactory(jurisdiction="FR", preferred_language="fr", name="Élodie Lefèvre")
    sign_in(client, speaker)
    assert give_in_portal(client, speaker, Purpose.TRAINING, "fr").status_code == 302
    event = ConsentEvent.objects.get(speaker=speaker, action=ConsentAction.GIVE)
    response = client.get(reverse("speakers:receipt-pdf", args=[event.public_id]))
    text = pdf_text(response.content)
    assert "Reçu de consentement" in text
    assert "Vous avez donné votre consentement" in text


def test_a_german_speakers_earnings_statement_pdf_is_in_german(client, notices):
    sign_in(client, german())
    response = client.get(reverse("speakers:statement-pdf"))
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "Verdienstabrechnung" in text
    assert "Zeitraum: seit Beginn" in text
