from __future__ import annotations

from django.contrib import admin

from compensation.models import LedgerEntry, RatePlan
from registry.admin import ReadOnlyAdmin


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    list_display = ["campaign", "amount_per_hour", "currency", "effective_from"]
    list_filter = ["currency", "campaign"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "speaker", "kind", "amount", "currency", "occurred_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["public_id", "speaker__public_id"]
