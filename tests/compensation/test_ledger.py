"""Compensation: one accrual per accepted track (hours × the campaign's rate in force
when the call was recorded), idempotent sweeps, payouts never above the balance, an
append-only ledger that a withdrawal never claws back, statements in CSV and PDF."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from compensation import services
from compensation.models import EntryKind, LedgerEntry
from compensation.selectors import balances, statement
from compensation.statements import statement_csv
from registry import services as catalogue
from registry.errors import InvalidInput
from tests.factories import RecordingFactory, SpeakerFactory
from tests.speakers.conftest import give, sign_in, withdraw

pytestmark = pytest.mark.django_db

JAN_1 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def campaign():
    campaign = catalogue.register_campaign(slug="duplex", name="Duplex 2026")
    services.publish_rate_plan(
        campaign=campaign, currency="USD", amount_per_hour="30", effective_from=JAN_1
    )
    return campaign


def recording(campaign, minutes=45, **kwargs):
    return RecordingFactory(
        campaign=campaign, duration_ms=minutes * 60_000, recorded_at=timezone.now(), **kwargs
    )


def test_each_accepted_track_accrues_hours_times_rate_for_its_own_speaker(campaign):
    rec = recording(campaign, minutes=45)
    assert services.accrue_earnings() == 2
    for track in rec.tracks.all():
        entry = LedgerEntry.objects.get(track=track)
        assert entry.speaker_id == track.speaker_id
        assert (entry.hours, entry.amount, entry.currency) == (
            Decimal("0.750000"),
            Decimal("22.5000"),
            "USD",
        )


def test_the_sweep_is_idempotent(campaign):
    recording(campaign)
    assert services.accrue_earnings() == 2
    assert services.accrue_earnings() == 0
    assert LedgerEntry.objects.count() == 2


def test_a_recording_without_verified_audio_earns_nothing_yet(campaign):
    recording(campaign, with_audio=False)
    assert services.accrue_earnings() == 0


def test_the_rate_in_force_when_the_call_was_recorded_applies(campaign):
    services.publish_rate_plan(
        campaign=campaign,
        currency="USD",
        amount_per_hour="40",
        effective_from=timezone.now() + datetime.timedelta(days=1),
    )
    rec = recording(campaign, minutes=60)
    services.accrue_earnings()
    assert {e.amount for e in LedgerEntry.objects.filter(track__recording=rec)} == {Decimal("30")}


def test_yen_amounts_are_rounded_to_whole_yen():
    campaign = catalogue.register_campaign(slug="jp", name="Japan")
    services.publish_rate_plan(
        campaign=campaign, currency="JPY", amount_per_hour="4500", effective_from=JAN_1
    )
    recording(campaign, minutes=7)  # 0.116667 h × 4500 = 525.0015
    services.accrue_earnings()
    assert set(LedgerEntry.objects.values_list("amount", flat=True)) == {Decimal("525")}


def test_withdrawing_consent_never_claws_back_earnings(campaign, notices):
    speaker = SpeakerFactory()
    give(speaker, "training")
    recording(campaign, speakers=[speaker, SpeakerFactory()])
    services.accrue_earnings()
    before = balances(speaker=speaker)
    withdraw(speaker, "training")
    services.accrue_earnings()
    assert balances(speaker=speaker) == before == {"USD": Decimal("22.50")}


def test_the_ledger_is_append_only(campaign):
    recording(campaign)
    services.accrue_earnings()
    entry = LedgerEntry.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1000"))
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()


def test_a_rate_plan_used_by_an_accrual_cannot_be_edited(campaign):
    recording(campaign)
    services.accrue_earnings()
    with (
        pytest.raises((IntegrityError, InternalError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE compensation_rateplan SET amount_per_hour = 99")


def test_a_payout_reduces_the_balance_and_may_not_exceed_it(campaign):
    rec = recording(campaign)
    services.accrue_earnings()
    speaker = rec.tracks.first().speaker
    services.record_payout(speaker=speaker, currency="USD", amount="20.00", reference="PAY-1")
    assert balances(speaker=speaker) == {"USD": Decimal("2.50")}
    with pytest.raises(InvalidInput) as excinfo:
        services.record_payout(speaker=speaker, currency="USD", amount="2.51", reference="PAY-2")
    assert excinfo.value.code == "insufficient_balance"
    with pytest.raises(InvalidInput):
        services.record_payout(speaker=speaker, currency="USD", amount="1.001", reference="P")
    with pytest.raises(InvalidInput):
        services.record_payout(speaker=speaker, currency="USD", amount="1", reference=" ")
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 1


@pytest.mark.parametrize(
    ("field", "value"), [("currency", "XXX"), ("amount_per_hour", "-1"), ("amount_per_hour", "x")]
)
def test_a_bad_rate_plan_is_refused(campaign, field, value):
    arguments = {"currency": "EUR", "amount_per_hour": "10"} | {field: value}
    with pytest.raises(InvalidInput):
        services.publish_rate_plan(campaign=campaign, **arguments)


def test_the_statement_csv_has_running_and_closing_balances(campaign):
    rec = recording(campaign)
    services.accrue_earnings()
    speaker = rec.tracks.first().speaker
    services.record_payout(speaker=speaker, currency="USD", amount="10", reference="PAY-1")
    rows = [line.strip().split(",") for line in statement_csv(statement(speaker=speaker))]
    assert rows[0][0] == "date"
    assert [r[1] for r in rows[1:]] == ["accrual", "payout", "closing"]
    assert rows[1][-1] == "22.50"
    assert rows[2][-1] == "12.50"
    assert rows[3][-1] == "12.50"
    assert str(rec.public_id) in rows[1][2]


def test_the_earnings_page_and_statements_for_the_signed_in_speaker(client, campaign, notices):
    rec = recording(campaign)
    services.accrue_earnings()
    speaker = rec.tracks.first().speaker
    sign_in(client, speaker)
    page = client.get(reverse("speakers:earnings")).content.decode()
    assert "22.50" in page
    assert "0.75" in page
    csv_body = b"".join(client.get(reverse("speakers:statement-csv")).streaming_content)
    assert b"22.50" in csv_body
    pdf = client.get(reverse("speakers:statement-pdf"))
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Earnings statement" in text
    assert "22.50 USD" in text
    month = timezone.now().strftime("%Y-%m")
    empty = client.get(reverse("speakers:earnings"), {"month": "2020-01"}).content.decode()
    assert "No entries in this period." in empty
    this_month = client.get(reverse("speakers:earnings"), {"month": month}).content.decode()
    assert "No entries in this period." not in this_month
    assert this_month.count("<td>Earned</td>") == 1
    csv_rows = b"".join(
        client.get(reverse("speakers:statement-csv"), {"month": "2020-01"}).streaming_content
    ).splitlines()
    assert len(csv_rows) == 1  # header only: the month filter reaches the export too


def test_the_statement_pdf_is_written_in_the_readers_language(campaign, settings):
    from compensation.statements import statement_pdf

    settings.PDF_CJK_FONT_PATH = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
    rec = recording(campaign)
    services.accrue_earnings()
    speaker = rec.tracks.first().speaker
    pdf = statement_pdf(statement(speaker=speaker), language="ja")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "報酬明細書" in text
    assert "22.50 USD" in text


def test_a_call_too_short_to_earn_a_cent_does_not_stop_the_sweep(campaign):
    RecordingFactory(campaign=campaign, duration_ms=300, recorded_at=timezone.now())
    paid = recording(campaign, minutes=10)
    assert services.accrue_earnings() == 2
    assert set(LedgerEntry.objects.values_list("track__recording", flat=True)) == {paid.pk}


def test_a_monthly_statement_prints_its_last_day():
    from compensation.selectors import Statement
    from compensation.statements import _period

    march = Statement(
        speaker_id="x",
        period_start=datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC),
        period_end=datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC),
        opening={},
    )
    assert _period(march) == "March 1, 2026 – March 31, 2026"
