"""A German speaker in chromium, on an English browser: the portal opens in German after
sign-in, and they give, download the receipt of, and withdraw a consent, in German, under
the German notice. An invitee reads the invitation page in the session's language, not
the browser's, and can switch it with the page's own form."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from consent import demo
from consent.models import Consent, ConsentAction, ConsentEvent, ConsentState
from consent.services import create_recording_session, invitation_token
from tests.browser.conftest import last_emailed_link
from tests.factories import SpeakerFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("eager_tasks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCREENSHOTS = Path("/tmp/browser-languages")  # noqa: S108 - looked at by hand after a run


def title(language: str, purpose: str) -> str:
    return demo.NOTICE_TEXT[language][purpose][0]


@pytest.fixture
def all_notices():
    """The demo's notices: real text in English, German, French and Japanese."""
    demo.publish_demo_notices()


@pytest.fixture
def english_browser(browser):
    context = browser.new_context(
        locale="en-US", extra_http_headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    yield context
    context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def german_page(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_a_german_speaker_gives_downloads_the_receipt_and_withdraws_in_german(
    english_browser, public_base_url, all_notices
):
    speaker = SpeakerFactory(
        email="juergen@example.de", jurisdiction="DE", preferred_language="de", name="Jürgen Weiß"
    )
    page = english_browser.new_page()
    page.goto(public_base_url + "/signin/")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the browser's language
    page.fill("#id_link-email", "juergen@example.de")
    page.locator("form[action='/signin/link/'] button").click()
    page.goto(last_emailed_link())
    page.get_by_role("button", name="Sign in now").click()

    # Signed in: the portal speaks the speaker's language, not the browser's.
    german_page(page)
    expect(page.locator("h1")).to_have_text("Meine Einwilligungen")
    expect(page.get_by_label("Sprache")).to_have_value("de")
    screenshot(page, "de-01-dashboard")

    page.get_by_role("link", name="Einwilligung erteilen: Training unserer Modelle").click()
    german_page(page)
    expect(page.locator("h1")).to_contain_text("Dürfen wir unsere eigenen Sprachmodelle")
    expect(page.locator(".notice")).to_have_attribute("lang", "de")
    expect(page.locator(".notice")).to_contain_text(title("de", "training"))
    signature = page.locator("input[name=signed_name]")
    if signature.count():
        signature.fill("Jürgen Weiß")
    screenshot(page, "de-02-give")
    page.get_by_role("button", name="Ich willige ein: Training unserer Modelle").click()
    german_page(page)
    expect(page.locator("#consent-training .state")).to_have_text("Erteilt")
    expect(page.locator(".messages")).to_contain_text("Sie haben eingewilligt")
    screenshot(page, "de-03-given")

    page.get_by_role("link", name="Verlauf und Belege").click()
    german_page(page)
    expect(page.locator("h1")).to_have_text("Verlauf und Belege")
    expect(page.locator("tbody tr")).to_have_count(1)
    screenshot(page, "de-04-history")
    with page.expect_download() as download:
        page.locator("tbody tr").first.get_by_role("link", name="PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    (SCREENSHOTS / "de-receipt.pdf").write_bytes(pdf)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Einwilligungsbeleg" in text
    assert "Sie haben eingewilligt" in text

    page.get_by_role("link", name="Meine Einwilligungen").click()
    page.get_by_role("link", name="Einwilligung widerrufen: Training unserer Modelle").click()
    german_page(page)
    expect(page.locator(".consequences")).to_contain_text("Die künftige Nutzung endet jetzt")
    screenshot(page, "de-05-withdraw")
    page.get_by_role("button", name="Jetzt widerrufen").click()
    german_page(page)
    expect(page.locator("#consent-training .state")).to_have_text("Widerrufen")
    screenshot(page, "de-06-withdrawn")

    consent = Consent.objects.get(speaker=speaker, purpose="training", session=None)
    assert consent.state == ConsentState.WITHDRAWN
    given = ConsentEvent.objects.get(speaker=speaker, action=ConsentAction.GIVE)
    assert given.notice_language == "de"


def test_the_invitation_page_follows_the_sessions_language_and_its_switcher(
    english_browser, live_server, all_notices
):
    invitee = SpeakerFactory(jurisdiction="JP", preferred_language="ja")  # age verified
    session = create_recording_session(
        external_ref="browser-ja-call",
        jurisdiction="JP",
        language="ja",
        speakers=[invitee, SpeakerFactory(jurisdiction="JP", preferred_language="ja")],
    )
    page = english_browser.new_page()
    page.goto(f"{live_server.url}/invite/{invitation_token(session.participants.get(channel=0))}/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("通話の前に:あなたの同意")
    expect(page.locator(".notice").first).to_contain_text(title("ja", "recording"))
    screenshot(page, "ja-01-invitation")

    page.get_by_label("言語").select_option("en")
    page.get_by_role("button", name="変更").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Before the call: your consent")
    expect(page.locator(".notice").first).to_contain_text(title("en", "recording"))
    screenshot(page, "ja-02-switched-to-english")
    # Only the languages the invitee's notices exist in are offered.
    assert page.locator("#language-select option").all_inner_texts() == ["English", "日本語"]
