"""Click-through of the speaker portal in chromium: sign-in link, give and withdraw,
receipts that verify, pre-call consent of two participants, an under-age refusal,
the Japanese UI, and one speaker trying to open another's receipt and recording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from consent.models import Consent, ConsentEvent, ConsentState
from consent.receipts import verify_receipt
from consent.selectors import cleared_to_record
from consent.services import create_recording_session, invitation_token
from registry.models import AgeVerificationMethod
from tests.browser.conftest import last_emailed_link
from tests.consent.conftest import NOTICE_PLACES, publish
from tests.factories import RecordingFactory, SpeakerFactory
from tests.speakers.conftest import give

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("eager_tasks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def all_notices():
    for purpose in ("recording", "training", "redistribution", "biometric", "likeness"):
        for jurisdiction, language in NOTICE_PLACES:
            publish(purpose, jurisdiction, language)


def sign_in_by_link(page: Page, base: str, email: str, shoot, *, button: str) -> None:
    page.goto(base + "/signin/")
    shoot("sign-in")
    page.fill("#id_link-email", email)
    page.locator("form[action='/signin/link/'] button").click()
    expect(page.locator("h1")).to_be_visible()
    shoot("link-sent")
    page.goto(last_emailed_link())
    shoot("link-landing")
    page.get_by_role("button", name=button).click()


def test_sign_in_link_give_and_withdraw_training_then_verify_the_receipt(
    browser, public_base_url, all_notices, shoot, output_path
):
    speaker = SpeakerFactory(email="maria@example.org")
    # Core flows work without JavaScript: the whole click-through runs with it off.
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    shoot_here = lambda name: shoot(name, page)  # noqa: E731
    sign_in_by_link(page, public_base_url, "maria@example.org", shoot_here, button="Sign in now")
    expect(page.locator("h1")).to_have_text("My consents")
    shoot_here("dashboard")

    # Keyboard only: tab to the training card's Give button and press Enter.
    give_link = page.get_by_role("link", name="Give consent: Training our models")
    for _ in range(40):
        page.keyboard.press("Tab")
        if give_link.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the Give button is not reachable with the keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("train our own speech models")
    shoot_here("give-training")
    page.get_by_role("button", name="I agree: Training our models").click()
    training = page.locator("#consent-training")
    expect(training.locator(".state")).to_have_text("Given")
    expect(page.locator("#consent-redistribution .state")).to_have_text("Not given")
    shoot_here("given")

    training.get_by_role("link", name="Withdraw consent: Training our models").click()
    expect(page.locator(".consequences")).to_contain_text("Future use stops now")
    shoot_here("withdraw-confirm")
    page.get_by_role("button", name="Withdraw now").click()
    expect(page.locator("#consent-training .state")).to_have_text("Withdrawn")
    shoot_here("withdrawn")
    assert Consent.objects.get(speaker=speaker, purpose="training").state == ConsentState.WITHDRAWN

    page.get_by_role("link", name="History and receipts").click()
    shoot_here("history")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    with page.expect_download() as download:
        rows.first.get_by_role("link", name="JSON").click()
    envelope = json.loads(Path(download.value.path()).read_text())
    assert envelope["receipt"]["registry"]["action"] == "withdraw"
    assert verify_receipt(envelope)
    with page.expect_download() as pdf:
        rows.first.get_by_role("link", name="PDF").click()
    assert Path(pdf.value.path()).read_bytes().startswith(b"%PDF")

    page.goto(public_base_url + "/verify/")
    page.fill("#id_receipt", json.dumps(envelope))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-result")).to_contain_text("Valid")
    shoot_here("verified")
    envelope["receipt"]["purposes"] = "tampered"
    page.fill("#id_receipt", json.dumps(envelope))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verify-result")).to_contain_text("Not valid")
    context.close()


def test_two_participants_consent_before_the_call_and_the_second_clears_it(
    page, live_server, all_notices, shoot
):
    first = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    second = SpeakerFactory()
    session = create_recording_session(
        external_ref="browser-call", jurisdiction="US-IL", language="en", speakers=[first, second]
    )
    links = [
        f"{live_server.url}/invite/{invitation_token(p)}/"
        for p in session.participants.order_by("channel")
    ]
    page.goto(links[0])
    expect(page.locator("#clearance")).to_contain_text("Not cleared")
    shoot("p1-invitation")
    page.fill("input[name=date_of_birth]", "1988-02-29")
    page.get_by_role("button", name="Confirm my age").click()
    shoot("p1-age-confirmed")
    page.get_by_role("button", name="I agree to be recorded on this call").click()
    expect(page.locator("#participants")).to_contain_text("Participant 1 (you): consented")
    expect(page.locator("#clearance")).to_contain_text("Not cleared")
    shoot("p1-consented")
    # Optional purposes are separate: giving training for this call gives nothing else.
    page.get_by_role("button", name="Yes, for this call: Training our models").click()
    expect(page.get_by_text("Given for this call")).to_have_count(1)
    assert not cleared_to_record(session)

    page.goto(links[1])
    expect(page.locator("#participants")).to_contain_text("Participant 1: consented")
    shoot("p2-invitation")
    page.get_by_role("button", name="I agree to be recorded on this call").click()
    expect(page.locator("#clearance")).to_contain_text("cleared to record")
    shoot("p2-cleared")
    assert cleared_to_record(session)


def test_an_under_age_participant_is_refused(page, live_server, all_notices, shoot):
    young = SpeakerFactory(
        date_of_birth=None, age_verification_method=AgeVerificationMethod.UNVERIFIED
    )
    session = create_recording_session(
        external_ref="browser-young",
        jurisdiction="US-IL",
        language="en",
        speakers=[young, SpeakerFactory()],
    )
    page.goto(f"{live_server.url}/invite/{invitation_token(session.participants.get(channel=0))}/")
    today = timezone.now().date()
    page.fill("input[name=date_of_birth]", today.replace(year=today.year - 15).isoformat())
    page.get_by_role("button", name="Confirm my age").click()
    expect(page.locator("h1")).to_have_text("You cannot take part in this call")
    expect(page.get_by_role("alert")).to_contain_text("below the minimum age")
    shoot("under-age-refused")
    young.refresh_from_db()
    assert young.date_of_birth is None
    assert not ConsentEvent.objects.filter(speaker=young, action="give").exists()


def test_the_japanese_ui_end_to_end(page, public_base_url, all_notices, shoot):
    speaker = SpeakerFactory(email="hanako@example.jp", jurisdiction="JP", preferred_language="ja")
    sign_in_by_link(page, public_base_url, "hanako@example.jp", shoot, button="Sign in now")
    # Signing in switches the UI to the speaker's language.
    expect(page.locator("h1")).to_have_text("私の同意")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    shoot("ja-dashboard")
    page.get_by_role("link", name="同意する:当社モデルの学習").click()
    expect(page.locator(".notice")).to_have_attribute("lang", "ja")
    shoot("ja-give")
    page.get_by_role("button", name="同意します:当社モデルの学習").click()
    expect(page.locator("#consent-training .state")).to_have_text("同意済み")
    page.get_by_role("link", name="同意を撤回する:当社モデルの学習").click()
    shoot("ja-withdraw")
    page.get_by_role("button", name="今すぐ撤回する").click()
    expect(page.locator("#consent-training .state")).to_have_text("撤回済み")
    page.get_by_role("link", name="履歴とレシート").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    shoot("ja-history")
    assert set(
        ConsentEvent.objects.filter(speaker=speaker).values_list("notice_language", flat=True)
    ) == {"ja"}
    # The switcher works without JavaScript: a plain form post.
    page.select_option("#language-select", "en")
    page.get_by_role("button", name="変更").click()
    expect(page.locator("h1")).to_have_text("History and receipts")
    shoot("switched-to-english")


def test_a_speaker_cannot_open_another_speakers_receipt_or_recording(
    page, public_base_url, all_notices, shoot
):
    owner = SpeakerFactory(email="owner@example.org")
    SpeakerFactory(email="intruder@example.org")
    give(owner, "recording")
    receipt = ConsentEvent.objects.get(speaker=owner)
    recording = RecordingFactory(speakers=[owner, SpeakerFactory()])
    sign_in_by_link(page, public_base_url, "intruder@example.org", shoot, button="Sign in now")
    for path in (
        f"/me/receipts/{receipt.public_id}.json",
        f"/me/receipts/{receipt.public_id}.pdf",
        f"/me/recordings/{recording.public_id}/",
    ):
        response = page.goto(public_base_url + path)
        assert response is not None
        assert response.status == 404, path
    shoot("not-found")
