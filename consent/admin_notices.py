"""Notices and jurisdiction rules in the admin."""

from __future__ import annotations

from django.contrib import admin

from consent.models import ConsentNotice, JurisdictionRule
from consent.selectors import consents_needing_reconsent
from registry.admin import ReadOnlyAdmin


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(ReadOnlyAdmin):
    list_display = [
        "purpose",
        "jurisdiction",
        "language",
        "version",
        "status",
        "title",
        "first_served_at",
        "must_reconsent",
    ]

    @admin.display(description="consents under older versions")
    def must_reconsent(self, notice: ConsentNotice) -> int:
        """Valid consents given under an earlier version: who must be asked again."""
        return consents_needing_reconsent(notice=notice).count()

    list_filter = ["purpose", "jurisdiction", "language", "status"]
    search_fields = ["title", "=text_sha256"]


@admin.register(JurisdictionRule)
class JurisdictionRuleAdmin(ReadOnlyAdmin):
    list_display = [
        "jurisdiction",
        "purpose",
        "effective_from",
        "effective_to",
        "min_age",
        "requires_written",
        "requires_explicit",
        "retention_days",
        "citation",
    ]
    list_filter = ["jurisdiction", "purpose"]
