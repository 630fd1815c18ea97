"""Every write to compensation: rate plans, accruals (set-based, idempotent), payouts."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from compensation.models import CURRENCY_MINOR_UNITS, EntryKind, LedgerEntry, RatePlan, quantum
from compensation.selectors import balances
from registry.errors import InvalidInput
from registry.models import Campaign, Speaker


class InsufficientBalance(InvalidInput):
    code = "insufficient_balance"
    status = 409


def _amount(value: object, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{field} is not a number", field=field) from exc
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(f"{field} must be a positive amount", field=field)
    return amount


def _currency(value: str) -> str:
    currency = (value or "").strip().upper()
    if currency not in CURRENCY_MINOR_UNITS:
        raise InvalidInput(
            "currency must be one of " + ", ".join(sorted(CURRENCY_MINOR_UNITS)), field="currency"
        )
    return currency


def publish_rate_plan(
    *,
    campaign: Campaign,
    currency: str,
    amount_per_hour: object,
    effective_from: datetime.datetime | None = None,
) -> RatePlan:
    """A new rate for a campaign from ``effective_from`` on (earlier plans stay as they
    were: accruals already made keep the rate they were made with)."""
    effective_from = effective_from or timezone.now()
    if timezone.is_naive(effective_from):
        raise InvalidInput("effective_from must carry a time zone", field="effective_from")
    with transaction.atomic(durable=True):
        if RatePlan.objects.filter(campaign=campaign, effective_from=effective_from).exists():
            raise InvalidInput("a plan already starts at that moment", field="effective_from")
        return RatePlan.objects.create(
            campaign=campaign,
            currency=_currency(currency),
            amount_per_hour=_amount(amount_per_hour, field="amount_per_hour"),
            effective_from=effective_from,
        )


def _rounding_sql() -> str:
    cases = " ".join(
        f"WHEN '{code}' THEN {units}" for code, units in sorted(CURRENCY_MINOR_UNITS.items())
    )
    return f"CASE p.currency {cases} END"


def accrue_earnings() -> int:
    """Write one accrual per track accepted into the corpus that has none yet.

    A track is accepted once its recording's audio was ingested and verified (it has a
    digest, even if the audio was later deleted); it earns the recording's duration in
    hours × the campaign's rate in force when the call was recorded. One INSERT …
    SELECT, idempotent through the unique track column, so beat can run it as often as
    it likes and two runs never pay twice. Returns the number of accruals written."""
    hours = "ROUND(r.duration_ms::numeric / 3600000, 6)"
    # Mirrors the ledger columns; raw SQL because the rate lookup is a LATERAL join.
    sql = f"""
        INSERT INTO compensation_ledgerentry
            (public_id, speaker_id, kind, currency, amount, track_id, rate_plan_id, hours,
             reference, occurred_at, created_at)
        SELECT gen_random_uuid(), t.speaker_id, %s, p.currency,
               ROUND({hours} * p.amount_per_hour, {_rounding_sql()}),
               t.id, p.id, {hours}, '', now(), now()
        FROM registry_track t
        JOIN registry_recording r ON r.id = t.recording_id
        JOIN LATERAL (
            SELECT rp.id, rp.currency, rp.amount_per_hour
            FROM compensation_rateplan rp
            WHERE rp.campaign_id = r.campaign_id AND rp.effective_from <= r.recorded_at
            ORDER BY rp.effective_from DESC
            LIMIT 1
        ) p ON true
        WHERE r.audio_sha256 <> ''
          -- a call too short to earn a minor unit earns nothing (and must not abort the
          -- sweep on the ledger's amount > 0 check)
          AND ROUND({hours} * p.amount_per_hour, {_rounding_sql()}) > 0
          AND NOT EXISTS (SELECT 1 FROM compensation_ledgerentry l WHERE l.track_id = t.id)
        ON CONFLICT (track_id) DO NOTHING
    """  # noqa: S608 - the interpolated parts are constants of this module
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [EntryKind.ACCRUAL.value])
        return cursor.rowcount


def record_payout(
    *, speaker: Speaker, currency: str, amount: object, reference: str
) -> LedgerEntry:
    """Record money paid to the speaker; refuses to pay more than the balance owed."""
    currency = _currency(currency)
    amount = _amount(amount, field="amount")
    if amount != amount.quantize(quantum(currency)):
        raise InvalidInput(
            f"{currency} amounts have at most {CURRENCY_MINOR_UNITS[currency]} decimal places",
            field="amount",
        )
    reference = (reference or "").strip()
    if not reference:
        raise InvalidInput("a payout needs its payment reference", field="reference")
    with transaction.atomic(durable=True):
        speaker = Speaker.objects.select_for_update(no_key=True).get(pk=speaker.pk)
        owed = balances(speaker=speaker).get(currency, Decimal(0))
        if amount > owed:
            raise InsufficientBalance(
                f"the speaker is owed {owed} {currency}, less than {amount}", field="amount"
            )
        return LedgerEntry.objects.create(
            speaker=speaker,
            kind=EntryKind.PAYOUT,
            currency=currency,
            amount=-amount,
            reference=reference[:200],
            occurred_at=timezone.now(),
        )
