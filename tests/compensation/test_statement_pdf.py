"""The earnings statement PDF in the reader's language: the period (or "all time"),
entries, dates and amounts as the language writes them, fonts embedded as subsets, and
the document's title, author and language set."""

from __future__ import annotations

import datetime
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from compensation import services
from compensation.selectors import Statement, StatementLine, statement
from compensation.statements import statement_pdf
from registry import services as catalogue
from registry.pdf import PdfFontMissing
from tests.factories import RecordingFactory
from tests.pdf_reading import (
    assert_does_not_show,
    assert_shows,
    embedded_fonts,
    translated,
)
from tests.speakers.conftest import notices, sign_in

__all__ = ["notices"]

SPEAKER = "cdd78610-4ec2-467c-a474-7ef33c1a743e"
RECORDING = "bea57ffc-0806-4775-bf9a-1a361ce32b98"
DAY = datetime.datetime(2026, 3, 9, 14, 30, tzinfo=datetime.UTC)


def ledger(
    *, start: datetime.datetime | None = None, end: datetime.datetime | None = None
) -> Statement:
    """An accrual of 1,234.50 EUR and a payout of 1,200.00 EUR on 9 March 2026."""
    return Statement(
        speaker_id=SPEAKER,
        period_start=start,
        period_end=end,
        opening={"EUR": Decimal("10.00")} if start else {},
        closing={"EUR": Decimal("44.50")} if start else {"EUR": Decimal("34.50")},
        lines=[
            StatementLine(
                occurred_at=DAY,
                kind="accrual",
                description=f"recording {RECORDING}",
                reference=RECORDING,
                hours=Decimal("1.000000"),
                rate=Decimal("1234.50"),
                currency="EUR",
                amount=Decimal("1234.50"),
                balance=Decimal("1234.50"),
            ),
            StatementLine(
                occurred_at=DAY,
                kind="payout",
                description="payout PAY-7",
                reference="PAY-7",
                hours=None,
                rate=None,
                currency="EUR",
                amount=Decimal("-1200.00"),
                balance=Decimal("34.50"),
            ),
        ],
    )


MARCH = {
    "start": datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC),
    "end": datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC),
}


@pytest.mark.parametrize("language", ["ja", "de", "fr", "en"])
def test_a_statement_for_all_time_says_all_time_in_the_readers_language(language) -> None:
    pdf = statement_pdf(ledger(), language=language)
    period = translated(language, "all time")
    assert_shows(pdf, translated(language, "Period: %(period)s", period=period))
    assert_does_not_show(pdf, "…")
    if language != "en":
        assert_does_not_show(pdf, "all time")


def test_a_japanese_monthly_statement_writes_dates_and_amounts_the_japanese_way() -> None:
    pdf = statement_pdf(ledger(**MARCH), language="ja")
    assert_shows(
        pdf,
        "報酬明細書",
        "期間:"
        + translated("ja", "%(start)s – %(end)s", start="2026年3月1日", end="2026年3月31日"),
        "2026/03/09",
        f"録音 {RECORDING} の報酬",
        "1.000",
        "1,234.50 EUR",
        "-1,200.00 EUR",
        "期末残高:44.50 EUR",
    )
    assert_does_not_show(pdf, "Earnings statement", "Earned for recording", "Paid out")


def test_a_german_monthly_statement_writes_dates_and_amounts_the_german_way() -> None:
    pdf = statement_pdf(ledger(**MARCH), language="de")
    assert_shows(
        pdf,
        translated("de", "Earnings statement"),
        "1. März 2026 – 31. März 2026",
        "09.03.2026",
        translated("de", "Earned for recording %(id)s", id=RECORDING),
        translated("de", "Paid out (%(reference)s)", reference="PAY-7"),
        "1,000",
        "1.234,50 EUR",
        "-1.200,00 EUR",
        translated("de", "Closing balance: %(amount)s", amount="44,50 EUR"),
    )
    assert_does_not_show(pdf, "Earnings statement", "Earned for recording", "1,234.50")


def test_a_french_statement_writes_its_period_in_french() -> None:
    pdf = statement_pdf(ledger(**MARCH), language="fr")
    assert_shows(pdf, "1 mars 2026 – 31 mars 2026", "09/03/2026")
    assert_does_not_show(pdf, "Earnings statement", "March")


def test_an_english_statement_writes_dates_and_amounts_the_english_way() -> None:
    pdf = statement_pdf(ledger(**MARCH), language="en")
    assert_shows(
        pdf,
        "Period: March 1, 2026 – March 31, 2026",
        "March 9, 2026",  # never 03/09/2026, read as 3 September outside the US
        f"Earned for recording {RECORDING}",
        "Paid out (PAY-7)",
        "1,234.50 EUR",
        "Opening balance: 10.00 EUR",
        "Closing balance: 44.50 EUR",
    )


def test_a_statement_in_a_language_we_do_not_speak_is_written_in_english() -> None:
    reader = PdfReader(io.BytesIO(statement_pdf(ledger(), language="sw")))
    assert reader.root_object["/Lang"] == "en"
    assert "Earnings statement" in reader.pages[0].extract_text()


@pytest.mark.parametrize(("language", "font"), [("ja", "IPAGothic"), ("de", "DejaVuSans")])
def test_every_font_of_a_statement_travels_inside_it_as_a_subset(language, font) -> None:
    fonts = embedded_fonts(statement_pdf(ledger(), language=language))
    assert fonts
    assert all(fonts.values()), fonts
    assert all(re.fullmatch(r"/[A-Z]{6}\+[\w-]+", name) for name in fonts), fonts
    assert f"+{font}" in " ".join(fonts)


@pytest.mark.parametrize("language", ["ja", "de", "en"])
def test_a_statement_carries_its_title_author_and_language(settings, language) -> None:
    reader = PdfReader(io.BytesIO(statement_pdf(ledger(), language=language)))
    assert reader.metadata.title == translated(language, "Earnings statement")
    assert reader.metadata.author == settings.CONSENT_CONTROLLER["piiController"]
    assert reader.metadata.subject == translated(
        language, "Period: %(period)s", period=translated(language, "all time")
    )
    assert reader.root_object["/Lang"] == language


def test_a_missing_font_stops_the_statement_and_names_the_debian_package(
    settings, tmp_path
) -> None:
    settings.PDF_CJK_FONT_PATH = str(tmp_path / "ipag.ttf")
    with pytest.raises(PdfFontMissing, match="fonts-ipafont-gothic"):
        statement_pdf(ledger(), language="ja")


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "jurisdiction"), [("ja", "JP"), ("de", "DE")])
def test_the_speaker_downloads_the_statement_in_their_language_from_the_portal(
    client, notices, language, jurisdiction
) -> None:
    campaign = catalogue.register_campaign(slug="duplex", name="Duplex 2026")
    services.publish_rate_plan(
        campaign=campaign,
        currency="USD",
        amount_per_hour="30",
        effective_from=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    recording = RecordingFactory(
        campaign=campaign, duration_ms=45 * 60_000, recorded_at=timezone.now()
    )
    services.accrue_earnings()
    speaker = recording.tracks.first().speaker
    speaker.preferred_language = language
    speaker.jurisdiction = jurisdiction
    speaker.save(update_fields=["preferred_language", "jurisdiction"])
    response = sign_in(client, speaker).get(reverse("speakers:statement-pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    amount = "22.50 USD" if language == "ja" else "22,50 USD"
    assert_shows(
        response.content,
        translated(language, "Earnings statement"),
        translated(language, "Period: %(period)s", period=translated(language, "all time")),
        amount,
    )
    assert_does_not_show(response.content, "Earnings statement", "all time")
    assert statement(speaker=speaker).closing == {"USD": Decimal("22.50")}


@pytest.mark.parametrize(("language", "zero"), [("en", "0.00 EUR"), ("de", "0,00 EUR")])
def test_an_opening_balance_of_nothing_names_the_currency_of_the_period(language, zero) -> None:
    pdf = statement_pdf(ledger(), language=language)
    assert_shows(pdf, translated(language, "Opening balance: %(amount)s", amount=zero))
