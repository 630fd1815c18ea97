"""Reads of compensation: balances and statements (sums in SQL, lines streamed)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from compensation.models import LedgerEntry, quantum
from registry.models import Speaker


def balances(*, speaker: Speaker, before: datetime.datetime | None = None) -> dict[str, Decimal]:
    """What the speaker is owed per currency (accruals minus payouts), optionally as it
    stood just before ``before``."""
    entries = LedgerEntry.objects.filter(speaker=speaker)
    if before is not None:
        entries = entries.filter(occurred_at__lt=before)
    return {
        row["currency"]: row["total"].quantize(quantum(row["currency"]))
        for row in entries.values("currency").annotate(total=Sum("amount")).order_by("currency")
    }


def earned_hours(*, speaker: Speaker) -> Decimal:
    total = LedgerEntry.objects.filter(speaker=speaker, hours__isnull=False).aggregate(
        total=Sum("hours")
    )["total"]
    return total or Decimal(0)


@dataclass(frozen=True)
class StatementLine:
    occurred_at: datetime.datetime
    kind: str
    description: str
    reference: str  # the recording's public id, or the payout's payment reference
    hours: Decimal | None
    rate: Decimal | None
    currency: str
    amount: Decimal
    balance: Decimal


@dataclass
class Statement:
    speaker_id: str
    period_start: datetime.datetime | None
    period_end: datetime.datetime | None
    opening: dict[str, Decimal]
    closing: dict[str, Decimal] = field(default_factory=dict)
    lines: list[StatementLine] = field(default_factory=list)


def statement(
    *,
    speaker: Speaker,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> Statement:
    """The speaker's ledger lines in ``[start, end)`` with opening, running and closing
    balances per currency. Recordings appear by public id only."""
    opening = balances(speaker=speaker, before=start) if start else {}
    result = Statement(
        speaker_id=str(speaker.public_id), period_start=start, period_end=end, opening=opening
    )
    running = dict(opening)
    for entry in _entries(speaker, start, end):
        amount = entry.amount.quantize(quantum(entry.currency))
        running[entry.currency] = running.get(entry.currency, Decimal(0)) + amount
        if entry.track is not None:
            reference = str(entry.track.recording.public_id)
            description = f"recording {reference}"
        else:
            reference = entry.reference
            description = f"payout {reference}"
        result.lines.append(
            StatementLine(
                occurred_at=entry.occurred_at,
                kind=entry.kind,
                description=description,
                reference=reference,
                hours=entry.hours,
                rate=entry.rate_plan.amount_per_hour if entry.rate_plan else None,
                currency=entry.currency,
                amount=amount,
                balance=running[entry.currency],
            )
        )
    result.closing = running
    return result


def _entries(
    speaker: Speaker, start: datetime.datetime | None, end: datetime.datetime | None
) -> Iterator[LedgerEntry]:
    entries = LedgerEntry.objects.filter(speaker=speaker).select_related(
        "track__recording", "rate_plan"
    )
    if start is not None:
        entries = entries.filter(occurred_at__gte=start)
    if end is not None:
        entries = entries.filter(occurred_at__lt=end)
    return entries.order_by("occurred_at", "id").iterator(chunk_size=1000)
