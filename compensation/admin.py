from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from compensation.models import LedgerEntry, RatePlan
from registry.admin import ReadOnlyAdmin


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    """Add-only: a new rate is a new plan from a date on; a plan is never edited or
    deleted here (accruals made under it must keep pointing at the rate they used)."""

    list_display = ["campaign", "amount_per_hour", "currency", "effective_from"]
    list_filter = ["currency", "campaign"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "speaker", "kind", "amount", "currency", "occurred_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["public_id", "speaker__public_id"]
