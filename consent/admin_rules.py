"""Jurisdiction rules in the admin: read-only for everyone, filtered to the rules in
force on a date (today by default), citations linked."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from consent.models import (
    Jurisdiction,
    JurisdictionRule,
)
from consent.rules import jurisdiction_chain
from registry.admin import ReadOnlyAdmin

TEXT_FIELDS = ("title", "body", "allows", "does_not_allow", "retention_schedule")
# The notice page lists this many of the consents to renew; the Consent list has them all.
AFFECTED_SHOWN = 50


class InForceOnFilter(admin.SimpleListFilter):
    """Rules in force on a date (default today), as ``consent.rules.rules_in_force``
    reads them: from ``effective_from`` included to ``effective_to`` excluded."""

    title = "date in force"
    parameter_name = "in_force_on"
    template = "admin/consent/jurisdictionrule/in_force_filter.html"
    ANY = "any"

    def __init__(self, request: HttpRequest, params: Any, model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        # Carried by the date form so choosing a date keeps the other filters.
        self.other_params = [
            (name, value)
            for name, value in request.GET.items()
            if name not in (self.parameter_name, "e", "p")
        ]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.ANY, "Any date (every rule)")]

    def day(self) -> datetime.date | None:
        """The chosen date; None for any date."""
        value = self.value()
        if value == self.ANY:
            return None
        if not value:
            return timezone.now().date()
        try:
            return datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise IncorrectLookupParameters(f"not a date: {value!r}") from exc

    def choices(self, changelist: Any) -> Any:
        value = self.value()
        yield {
            "selected": not value,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": f"Today ({timezone.now().date().isoformat()})",
        }
        if value and value != self.ANY:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": value,
            }
        yield {
            "selected": value == self.ANY,
            "query_string": changelist.get_query_string({self.parameter_name: self.ANY}),
            "display": "Any date (every rule)",
        }

    def chosen_date(self) -> str:
        value = self.value()
        return "" if value == self.ANY else value or timezone.now().date().isoformat()

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[JurisdictionRule]
    ) -> QuerySet[JurisdictionRule]:
        day = self.day()
        if day is None:
            return queryset
        return queryset.filter(effective_from__lte=day).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gt=day)
        )


def is_url(value: str) -> bool:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


@admin.register(JurisdictionRule)
class JurisdictionRuleAdmin(ReadOnlyAdmin):
    """Legal requirements as data (from migrations): read here by everyone allowed to
    view them, changed by no one."""

    list_display = [
        "jurisdiction_name",
        "purpose_name",
        "effective_from",
        "effective_to",
        "in_force_today",
        "min_age",
        "requires_written",
        "requires_explicit",
        "retention_days",
        "citation_link",
    ]
    list_display_links = ["jurisdiction_name", "purpose_name"]
    list_filter = [InForceOnFilter, "jurisdiction", "purpose"]
    list_select_related = ["jurisdiction"]
    ordering = ["jurisdiction_id", "purpose", "effective_from"]
    search_fields = ["citation", "summary"]
    readonly_fields = ["citation_link", "in_force_today", "applies_to"]
    fieldsets = [
        (None, {"fields": ["jurisdiction", "applies_to", "purpose", "summary", "citation_link"]}),
        ("In force", {"fields": ["effective_from", "effective_to", "in_force_today"]}),
        (
            "What consent needs",
            {
                "fields": [
                    "min_age",
                    "all_party_recording",
                    "requires_written",
                    "requires_explicit",
                    "requires_retention_schedule",
                    "retention_days",
                    "notice_in_speaker_language",
                    "requires_speaker_act",
                    "allowed_evidence_methods",
                ]
            },
        ),
    ]

    @admin.display(description="jurisdiction", ordering="jurisdiction_id")
    def jurisdiction_name(self, rule: JurisdictionRule) -> str:
        return f"{rule.jurisdiction_id} – {rule.jurisdiction.name}"

    @admin.display(description="purpose", ordering="purpose")
    def purpose_name(self, rule: JurisdictionRule) -> str:
        return rule.get_purpose_display() if rule.purpose else "every purpose"

    @admin.display(description="in force today", boolean=True)
    def in_force_today(self, rule: JurisdictionRule) -> bool:
        today = timezone.now().date()
        return rule.effective_from <= today and (
            rule.effective_to is None or today < rule.effective_to
        )

    @admin.display(description="citation", ordering="citation")
    def citation_link(self, rule: JurisdictionRule) -> str:
        if is_url(rule.citation):
            return format_html(
                '<a href="{}" rel="noopener noreferrer">{}</a>', rule.citation, rule.citation
            )
        return rule.citation

    @admin.display(description="applies to speakers in")
    def applies_to(self, rule: JurisdictionRule) -> str:
        code = rule.jurisdiction_id
        below = sorted(
            other
            for other in Jurisdiction.objects.values_list("code", flat=True)
            if other != code and code in jurisdiction_chain(other)
        )
        return f"{code}" + (f" and {', '.join(below)}" if below else "")
