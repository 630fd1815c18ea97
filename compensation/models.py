"""What speakers are owed: rate plans per collection campaign and an append-only ledger.

The unit is one recorded hour per speaker, because two people supplied each
conversation: each track accepted into the corpus accrues its own hours × rate. The
ledger is append-only (triggers refuse UPDATE and DELETE), so a later withdrawal of
consent can never claw back what was earned; payouts are entries of their own.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pgtrigger
from django.db import models
from django.db.models import Q

from registry.models import Campaign, Speaker, Track, one_of

# ISO 4217 codes we pay in, with their minor units (JPY has none).
CURRENCY_MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CAD": 2, "AUD": 2}


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency])


class RatePlan(models.Model):
    """Amount per recorded speaker-hour for a campaign, from a date on. A new rate is a
    new plan; a plan already used by an accrual is never edited (trigger)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="rate_plans")
    currency = models.CharField(max_length=3)
    amount_per_hour = models.DecimalField(max_digits=12, decimal_places=4)
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign_id", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "effective_from"], name="rate_plan_one_per_start"
            ),
            models.CheckConstraint(
                condition=Q(amount_per_hour__gt=0), name="rate_plan_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(currency__in=list(CURRENCY_MINOR_UNITS)), name="rate_plan_currency"
            ),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="rate_plan_used_is_immutable",
                when=pgtrigger.Before,
                operation=pgtrigger.Update | pgtrigger.Delete,
                func=pgtrigger.Func(
                    """
                    IF EXISTS (SELECT 1 FROM compensation_ledgerentry WHERE rate_plan_id = OLD.id)
                    THEN
                        RAISE EXCEPTION USING
                            ERRCODE = 'integrity_constraint_violation',
                            MESSAGE = format('rate plan %s was used by an accrual; '
                                             'publish a new plan instead', OLD.id);
                    END IF;
                    IF TG_OP = 'DELETE' THEN
                        RETURN OLD;
                    END IF;
                    RETURN NEW;
                    """
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.amount_per_hour} {self.currency}/h"


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", "Earned for a recorded track"
    PAYOUT = "payout", "Paid out"


class LedgerEntry(models.Model):
    """One line of a speaker's account: an accrual (positive) or a payout (negative)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    speaker = models.ForeignKey(Speaker, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    # Accruals: exactly one per track, with the hours and the rate that produced it.
    track = models.OneToOneField(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="accrual"
    )
    rate_plan = models.ForeignKey(
        RatePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="accruals"
    )
    hours = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    # Payouts: the payment reference (bank transfer id, payroll run).
    reference = models.CharField(max_length=200, blank=True, default="")
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["speaker", "occurred_at"], name="ledger_speaker_idx")]
        constraints = [
            one_of("kind", EntryKind, "ledger_kind_known"),
            models.CheckConstraint(
                condition=Q(currency__in=list(CURRENCY_MINOR_UNITS)), name="ledger_currency"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind=EntryKind.ACCRUAL,
                    amount__gt=0,
                    track__isnull=False,
                    rate_plan__isnull=False,
                    hours__gt=0,
                )
                | Q(
                    kind=EntryKind.PAYOUT,
                    amount__lt=0,
                    track__isnull=True,
                    rate_plan__isnull=True,
                    hours__isnull=True,
                )
                & ~Q(reference=""),
                name="ledger_entry_shape",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="ledger_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency}"
