"""The PDF receipt in the reader's language: every value translated (scope, validity,
evidence method, purpose, act, state), dates written as the language writes them, the
fonts embedded as subsets (never a CID font the viewer must supply, never empty boxes),
and the document's title, author and language set."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.urls import reverse
from django.utils import formats, translation
from pypdf import PdfReader

from consent import services
from consent.models import ConsentAction, ConsentEvent, EvidenceMethod, Purpose
from consent.receipts import EVIDENCE_METHOD_LABEL, STATE_LABEL, receipt_pdf
from registry.models import Speaker
from registry.pdf import PdfFontMissing, check_pdf_fonts
from tests.consent.conftest import give, publish, withdraw
from tests.factories import SpeakerFactory
from tests.pdf_reading import (
    assert_does_not_show,
    assert_shows,
    embedded_fonts,
    translated,
)
from tests.speakers.conftest import sign_in

pytestmark = pytest.mark.django_db

# (language, jurisdiction): a speaker there answers a notice in that language.
READERS = [("ja", "JP"), ("de", "DE"), ("fr", "FR")]
GERMAN_MONTHS = [
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
]  # fmt: skip


def in_language(language: str, value: object) -> str:
    with translation.override(language):
        return str(value)


def ja_date(moment: datetime.datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def de_date(moment: datetime.datetime) -> str:
    return f"{moment.day}. {GERMAN_MONTHS[moment.month - 1]} {moment.year}"


def speaker_in(jurisdiction: str, language: str) -> Speaker:
    return SpeakerFactory(jurisdiction=jurisdiction, preferred_language=language)


def spoken_give(speaker: Speaker, purpose: str) -> ConsentEvent:
    evidence = services.Evidence(method=EvidenceMethod.SPOKEN_PHRASE, document_sha256="ab" * 32)
    return give(speaker, purpose, evidence).last_event


@pytest.mark.parametrize(("language", "jurisdiction"), READERS)
def test_a_receipt_for_consent_given_shows_every_value_in_the_notices_language(
    notices, language, jurisdiction
) -> None:
    event = spoken_give(speaker_in(jurisdiction, language), Purpose.TRAINING)
    pdf = receipt_pdf(event)
    assert_shows(
        pdf,
        translated(language, "Consent receipt"),
        in_language(language, Purpose.TRAINING.label),
        in_language(language, ConsentAction.GIVE.label),
        in_language(language, STATE_LABEL["given"]),
        translated(language, "all recordings"),
        translated(language, "until withdrawn"),
        in_language(language, EVIDENCE_METHOD_LABEL[EvidenceMethod.SPOKEN_PHRASE]),
        str(event.public_id),
    )
    assert_does_not_show(
        pdf,
        "Consent receipt",
        "You gave consent",
        "In-house model training",
        "all recordings",
        "until withdrawn",
        "Recorded spoken consent phrase",
    )


def test_a_japanese_receipt_reads_in_japanese_with_its_dates_written_the_japanese_way(
    notices,
) -> None:
    event = spoken_give(speaker_in("JP", "ja"), Purpose.TRAINING)
    pdf = receipt_pdf(event)
    assert_shows(
        pdf,
        "同意レシート",
        "社内モデルの学習",
        "すべての録音",
        "あなたのID",
        ja_date(event.occurred_at),
        event.occurred_at.strftime("%H:%M:%S UTC"),
    )
    assert_does_not_show(pdf, "You gave consent", "Consent receipt")


def test_a_german_receipt_of_a_withdrawal_says_when_the_consent_ended_in_german(notices) -> None:
    speaker = speaker_in("DE", "de")
    give(speaker, Purpose.TRAINING)
    event = withdraw(speaker, Purpose.TRAINING).last_event
    pdf = receipt_pdf(event)
    ended = translated("de", "ended on %(date)s", date=de_date(event.occurred_at))
    assert_shows(
        pdf,
        ended,
        in_language("de", ConsentAction.WITHDRAW.label),
        in_language("de", STATE_LABEL["withdrawn"]),
        in_language("de", EVIDENCE_METHOD_LABEL[EvidenceMethod.WEB_FORM]),
        "Deutsch",
    )
    assert_does_not_show(
        pdf, "Withdrew consent", "ended on", "Web form (one affirmative click)", "December"
    )


def test_an_english_receipt_of_an_expiring_consent_gives_the_last_day_it_can_last(notices) -> None:
    event = give(speaker_in("US-IL", "en"), Purpose.BIOMETRIC).last_event
    assert event.expires_at is not None
    with translation.override("en"):
        last_day = formats.date_format(event.expires_at.astimezone(datetime.UTC).date())
    assert_shows(
        receipt_pdf(event),
        "You gave consent: Voiceprint enrolment and matching.",
        f"until withdrawn, at the latest {last_day}",
        "Web form with typed-name signature (written)",
        "English",
    )


def test_a_receipt_for_one_call_names_the_call_in_the_readers_language(notices) -> None:
    speaker = speaker_in("JP", "ja")
    session = services.create_recording_session(
        external_ref="call-receipt-ja",
        jurisdiction="JP",
        language="ja",
        speakers=[speaker, SpeakerFactory(jurisdiction="JP")],
    )
    event = give(speaker, Purpose.RECORDING, session=session).last_event
    pdf = receipt_pdf(event)
    assert_shows(pdf, translated("ja", "one call (%(id)s)", id=session.public_id))
    assert_does_not_show(pdf, "one call", "すべての録音")
    request = speaker.consent_events.get(session=session, action=ConsentAction.REQUEST)
    assert_shows(
        receipt_pdf(request),
        in_language("ja", EVIDENCE_METHOD_LABEL[EvidenceMethod.REQUEST]),
        translated("ja", "not in effect"),
    )


@pytest.mark.parametrize("language", ["ja", "de", "fr"])
def test_every_evidence_method_and_state_has_a_label_in_every_language(language) -> None:
    assert set(EVIDENCE_METHOD_LABEL) == set(EvidenceMethod.values)
    for label in [*EVIDENCE_METHOD_LABEL.values(), *STATE_LABEL.values()]:
        assert in_language(language, label) != in_language("en", label)


@pytest.mark.parametrize(
    ("language", "jurisdiction", "font"),
    [("ja", "JP", "IPAGothic"), ("de", "DE", "DejaVuSans"), ("en", "US", "DejaVuSans")],
)
def test_every_font_of_a_receipt_travels_inside_it_as_a_subset(
    notices, language, jurisdiction, font
) -> None:
    pdf = receipt_pdf(give(speaker_in(jurisdiction, language), Purpose.TRAINING).last_event)
    fonts = embedded_fonts(pdf)
    assert fonts
    assert all(fonts.values()), fonts  # a FontFile2 behind every font
    assert all(re.fullmatch(r"/[A-Z]{6}\+[\w-]+", name) for name in fonts), fonts
    assert f"+{font}" in " ".join(fonts)
    assert b"HeiseiKakuGo" not in pdf
    assert b"/Helvetica" not in pdf


def test_text_the_documents_font_lacks_is_set_in_one_that_has_it(notices) -> None:
    publish(Purpose.TRAINING, "EU", "de", title="Einwilligung für 音声 – « Übung »")
    pdf = receipt_pdf(give(speaker_in("DE", "de"), Purpose.TRAINING).last_event)
    assert_shows(pdf, "Einwilligung für 音声 – « Übung »")
    assert any("+IPAGothic" in name for name in embedded_fonts(pdf))


@pytest.mark.parametrize(("language", "jurisdiction"), [("ja", "JP"), ("de", "DE")])
def test_markup_in_a_notice_title_is_printed_as_text(notices, language, jurisdiction) -> None:
    title = '<b>Fett</b> & <font face="Courier">x</font> <script>alert(1)</script> 声'
    publish(Purpose.TRAINING, "JP" if language == "ja" else "EU", language, title=title)
    pdf = receipt_pdf(give(speaker_in(jurisdiction, language), Purpose.TRAINING).last_event)
    assert_shows(pdf, title)


@pytest.mark.parametrize(("language", "jurisdiction"), [("ja", "JP"), ("de", "DE")])
def test_a_receipt_carries_its_title_author_and_language(
    notices, settings, language, jurisdiction
) -> None:
    event = give(speaker_in(jurisdiction, language), Purpose.TRAINING).last_event
    reader = PdfReader(io.BytesIO(receipt_pdf(event)))
    assert reader.metadata.title == translated(
        language, "Consent receipt %(id)s", id=event.public_id
    )
    assert reader.metadata.author == settings.CONSENT_CONTROLLER["piiController"]
    assert reader.root_object["/Lang"] == language


@pytest.mark.parametrize(("language", "jurisdiction"), [("ja", "JP"), ("de", "DE")])
def test_the_speaker_downloads_the_receipt_in_their_language_from_the_portal(
    client, notices, language, jurisdiction
) -> None:
    speaker = speaker_in(jurisdiction, language)
    event = give(speaker, Purpose.TRAINING).last_event
    response = sign_in(client, speaker).get(reverse("speakers:receipt-pdf", args=[event.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert_shows(
        response.content,
        translated(language, "Consent receipt"),
        translated(language, "all recordings"),
    )
    assert_does_not_show(response.content, "Consent receipt", "all recordings")


def test_a_missing_japanese_font_stops_the_receipt_and_names_the_debian_package(
    notices, settings, tmp_path
) -> None:
    event = give(speaker_in("JP", "ja"), Purpose.TRAINING).last_event
    settings.PDF_CJK_FONT_PATH = str(tmp_path / "ipag.ttf")
    with pytest.raises(PdfFontMissing, match="apt-get install fonts-ipafont-gothic"):
        receipt_pdf(event)


def test_a_missing_latin_font_stops_the_receipt_and_names_the_debian_package(
    notices, settings, tmp_path
) -> None:
    event = give(speaker_in("DE", "de"), Purpose.TRAINING).last_event
    settings.PDF_LATIN_FONT_DIR = str(tmp_path)
    with pytest.raises(PdfFontMissing, match="apt-get install fonts-dejavu-core"):
        receipt_pdf(event)


def test_the_deploy_check_fails_while_a_pdf_font_is_missing(settings, tmp_path) -> None:
    assert check_pdf_fonts() == []
    settings.PDF_CJK_FONT_PATH = str(tmp_path / "ipag.ttf")
    errors = check_pdf_fonts()
    assert [error.id for error in errors] == ["registry.E001"]
    assert "fonts-ipafont-gothic" in errors[0].msg
